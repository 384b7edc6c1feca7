namespace PCache.Commands;

/// <summary>Cmdlets arrive with the module issue; the assembly exists so the module stages.</summary>
internal static class ModuleInfo
{
    public const string Name = "PCache";
}
