{{/*
Names. The full name prefixes every object; it is the release name when that
already contains the chart name ("redflag" -> redflag-gateway-tls, the Secret
name the manager uses by default).
*/}}
{{- define "redflag.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "redflag.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "redflag.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "redflag.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "redflag.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: redflag
{{- end }}

{{/*
Selector labels of one component's pods. Called with a dict: root (the chart
context) and component ("manager" or "gateway").
*/}}
{{- define "redflag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "redflag.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The label of every pod that serves the gateway, whichever Deployment
it belongs to, which the gateway Service selects: switching
gateway.separate then keeps the old pods behind the Service until the new
ones are Ready, instead of moving the selector to pods not yet running. */}}
{{- define "redflag.gatewayPodLabel" -}}
redflag.io/serves-gateway: "true"
{{- end }}


{{- define "redflag.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "redflag.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "redflag.gatewayServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-gateway" (include "redflag.serviceAccountName" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "redflag.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "redflag.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "redflag.imageTag" .) }}
{{- end }}

{{- define "redflag.gatewayServiceName" -}}
{{- printf "%s-gateway" (include "redflag.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "redflag.tlsSecretName" -}}
{{- default (printf "%s-gateway-tls" (include "redflag.fullname" .)) .Values.gateway.tls.secretName }}
{{- end }}

{{- define "redflag.signingSecretName" -}}
{{- default (printf "%s-work-signing" (include "redflag.fullname" .)) .Values.gateway.signingSecretName }}
{{- end }}

{{- define "redflag.leaderElectionID" -}}
{{- default (printf "%s-manager" (include "redflag.fullname" .)) .Values.manager.leaderElectionID }}
{{- end }}

{{/*
The pods must not start before a Secret the manager is told to serve from
exists: the manager would otherwise create a self-signed certificate in it,
and cert-manager (or whoever provides it) and the manager would fight over
it. Mounting the Secret makes the kubelet hold the pod until it exists.
*/}}
{{- define "redflag.waitForTLSSecret" -}}
{{- if or .Values.gateway.tls.secretName .Values.gateway.tls.certManager.enabled }}true{{ end }}
{{- end }}

{{/* The URL hosts use: gateway.publicURL, else https://<ingress host>. */}}
{{- define "redflag.publicURL" -}}
{{- if .Values.gateway.publicURL }}
{{- .Values.gateway.publicURL }}
{{- else if and .Values.gateway.ingress.enabled .Values.gateway.ingress.host }}
{{- printf "https://%s" .Values.gateway.ingress.host }}
{{- end }}
{{- end }}

{{/*
Names the gateway's certificate covers besides what the manager adds itself
(localhost and the public URL's host): the Service's in-cluster names, the
Ingress host and gateway.dnsNames. One per line.
*/}}
{{- define "redflag.gatewayDNSNames" -}}
{{- $svc := include "redflag.gatewayServiceName" . }}
{{- $names := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) }}
{{- if and .Values.gateway.ingress.enabled .Values.gateway.ingress.host }}
{{- $names = append $names .Values.gateway.ingress.host }}
{{- end }}
{{- range .Values.gateway.dnsNames }}
{{- $names = append $names . }}
{{- end }}
{{- join "\n" (uniq $names) }}
{{- end }}

{{/*
One Deployment's pod template. Called with a dict: root (the chart context),
component ("manager" or "gateway"), cfg (manager or gateway values),
serviceAccountName, args (the component's flags) and servesGateway (bool).
*/}}
{{- define "redflag.podTemplate" -}}
{{- $root := .root -}}
{{- $cfg := .cfg -}}
metadata:
  labels:
    {{- include "redflag.selectorLabels" (dict "root" $root "component" .component) | nindent 4 }}
    {{- if .servesGateway }}
    {{- include "redflag.gatewayPodLabel" $root | nindent 4 }}
    {{- end }}
    {{- with $cfg.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $cfg.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ .serviceAccountName }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $cfg.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  # The manager stops within seconds (the gateway finishes its requests
  # for at most 10 s), after the gateway.drainSeconds of serving on.
  terminationGracePeriodSeconds: {{ add 30 (ternary (int $root.Values.gateway.drainSeconds) 0 (.servesGateway | default false)) }}
  containers:
    - name: {{ .component }}
      image: {{ include "redflag.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- range .args }}
        - {{ . | quote }}
        {{- end }}
        - {{ printf "--zap-log-level=%v" $cfg.logLevel | quote }}
        {{- range $cfg.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        # Gateway replicas find each other by name and address (Leases).
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        {{- $userSetsGoMemLimit := false }}
        {{- range $cfg.extraEnv }}{{ if eq .name "GOMEMLIMIT" }}{{ $userSetsGoMemLimit = true }}{{ end }}{{ end }}
        {{- with ($cfg.resources.limits).memory }}
        {{- if not $userSetsGoMemLimit }}
        # Go's collector works harder as the heap nears this soft limit, so
        # a burst stays under the container's limit rather than being
        # OOM-killed; 90% leaves room for memory that is not heap.
        - name: GOMEMLIMIT
          value: {{ include "redflag.goMemLimit" . | quote }}
        {{- end }}
        {{- end }}
        {{- with $cfg.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        {{- if .servesGateway }}
        - name: gateway
          containerPort: {{ $root.Values.gateway.containerPort }}
          protocol: TCP
        {{- end }}
        {{- if $root.Values.metrics.enabled }}
        - name: metrics
          containerPort: {{ $root.Values.metrics.port }}
          protocol: TCP
        {{- end }}
        - name: health
          containerPort: {{ $root.Values.healthPort }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: health
        initialDelaySeconds: 15
        periodSeconds: 20
      # Ready once the gateway (when this pod runs it) serves: its informers
      # are filled, so the first request sees every enrolled agent. Probed
      # often, so a new gateway pod takes hosts soon after it can.
      readinessProbe:
        httpGet:
          path: /readyz
          port: health
        initialDelaySeconds: 2
        periodSeconds: 5
      {{- if and .servesGateway $root.Values.gateway.drainSeconds }}
      # Told to stop, a pod that serves hosts keeps serving (and passing its
      # readiness probe) for gateway.drainSeconds before the manager gets
      # SIGTERM: when no other gateway pod is ready yet (an upgrade that
      # moves the gateway, a drain), kube-proxy still sends hosts to this
      # terminating pod, so they see no gap.
      lifecycle:
        preStop:
          sleep:
            seconds: {{ $root.Values.gateway.drainSeconds }}
      {{- end }}
      resources:
        {{- toYaml $cfg.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      {{- $waitTLS := and .servesGateway (include "redflag.waitForTLSSecret" $root) }}
      {{- $releases := and .servesGateway $root.Values.releases.volume }}
      {{- if or $waitTLS $releases }}
      volumeMounts:
        {{- if $waitTLS }}
        # Not read from disk (the manager reads the Secret through the API);
        # mounted so the pod waits until the Secret exists.
        - name: gateway-tls
          mountPath: /var/run/redflag/gateway-tls
          readOnly: true
        {{- end }}
        {{- if $releases }}
        - name: releases
          mountPath: {{ include "redflag.releasesMountPath" $root }}
          readOnly: true
        {{- end }}
      {{- end }}
  {{- if or $waitTLS $releases }}
  volumes:
    {{- if $waitTLS }}
    - name: gateway-tls
      secret:
        secretName: {{ include "redflag.tlsSecretName" $root }}
    {{- end }}
    {{- if $releases }}
    - name: releases
      {{- toYaml $root.Values.releases.volume | nindent 6 }}
    {{- end }}
  {{- end }}
  {{- with $cfg.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $cfg.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $cfg.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $cfg.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* 90% of a Kubernetes memory quantity (512Mi, 1Gi, 500M, bytes), in
bytes, for GOMEMLIMIT. */}}
{{- define "redflag.goMemLimit" -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- $bytes := 0 -}}
{{- range $unit, $mult := $units -}}
{{- if hasSuffix $unit $q -}}
{{- $bytes = mul (trimSuffix $unit $q | int64) $mult -}}
{{- end -}}
{{- end -}}
{{- if not $bytes -}}
{{- $bytes = $q | int64 -}}
{{- end -}}
{{- div (mul $bytes 9) 10 -}}
{{- end }}

{{/* Where the operator's own release store is mounted (releases.volume). */}}
{{- define "redflag.releasesMountPath" -}}
/var/lib/redflag/releases
{{- end }}

{{/* Flags every pod gets: where metrics, probes and the manager's Secrets are. */}}
{{- define "redflag.commonArgs" -}}
{{- $args := list (printf "--namespace=%s" .Release.Namespace) (printf "--health-probe-bind-address=:%v" .Values.healthPort) }}
{{- if .Values.metrics.enabled }}
{{- $args = append $args (printf "--metrics-bind-address=:%v" .Values.metrics.port) }}
{{- else }}
{{- $args = append $args "--metrics-bind-address=0" }}
{{- end }}
{{- toJson $args }}
{{- end }}

{{/* Flags of a pod that runs the gateway. */}}
{{- define "redflag.gatewayArgs" -}}
{{- /* Every replica serving hosts announces its pod IP to the others, which
pass each agent's requests to the one replica that owns it. */ -}}
{{- $args := list "--gateway-peer-address=$(POD_IP)" (printf "--gateway-bind-address=:%v" .Values.gateway.containerPort) (printf "--gateway-tls-secret=%s" (include "redflag.tlsSecretName" .)) (printf "--work-signing-secret=%s" (include "redflag.signingSecretName" .)) (printf "--gateway-dns-names=%s" (include "redflag.gatewayDNSNames" . | splitList "\n" | join ",")) }}
{{- with include "redflag.publicURL" . }}
{{- $args = append $args (printf "--gateway-public-url=%s" .) }}
{{- end }}
{{- if .Values.releases.volume }}
{{- $args = append $args (printf "--release-dir=%s" (include "redflag.releasesMountPath" .)) }}
{{- end }}
{{- with .Values.releases.publicKey }}
{{- $args = append $args (printf "--release-public-key=%s" .) }}
{{- end }}
{{- toJson $args }}
{{- end }}
