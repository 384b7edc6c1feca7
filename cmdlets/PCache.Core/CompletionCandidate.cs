namespace PCache.Core;

/// <summary>One tab-completion choice: the text inserted, the text in the menu, and a tooltip.</summary>
public sealed record CompletionCandidate(string CompletionText, string ListItemText, string ToolTip);
