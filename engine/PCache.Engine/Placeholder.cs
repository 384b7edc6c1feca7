namespace PCache.Engine;
internal static class EnginePlaceholder { }
