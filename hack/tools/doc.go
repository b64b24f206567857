// Package tools pins the developer tools that the tests and packaging run
// (helm, nfpm) in a module of their own, so their large dependency trees
// never enter the product's go.mod. Run one with
//
//	go -C hack/tools tool helm version
package tools
