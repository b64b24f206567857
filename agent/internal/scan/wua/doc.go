// Package wua scans a Windows host for pending Windows Update updates
// through the Windows Update Agent (WUA) COM API.
//
// The Runner (Windows only) runs SearchScript in Windows PowerShell: it
// asks Microsoft.Update.Session's searcher for "IsInstalled=0 and
// IsHidden=0" and prints each update's Title, KBArticleIDs, MsrcSeverity,
// Categories (Name, CategoryID, Type) and UpdateID as JSON, escaping
// non-ASCII so the console code page cannot garble it.
//
// Parse (every platform) turns that JSON into PendingUpdates. It accepts
// the shapes ConvertTo-Json really produces: an array, a bare object for a
// single result, nothing for none, and Windows PowerShell 5.1's
// {"value": [...], "Count": n} wrapping; KB ids and categories may each be
// a list, a single value or plain category names.
//
// Mapping: Name is the update's Title (what Windows Update shows);
// AvailableVersion is its KB article id(s), such as "KB5037771", the
// closest thing an update has to a version; Source is its classification
// ("Security Updates", "Definition Updates", "Drivers"). An update is
// Security when it is classified Security Updates (by name or by the
// classification's fixed CategoryID, which survives localisation) or has
// an MSRC severity.
package wua
