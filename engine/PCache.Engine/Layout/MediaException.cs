namespace PCache.Engine.Layout;

/// <summary>
/// The cache device holds something that cannot be trusted. The message names the structure and
/// its byte offset on the device, so an admin can tell a torn write from a wrong device.
/// </summary>
public sealed class MediaException : IOException
{
    public MediaException(string structure, long offset, string problem)
        : base($"{structure} at offset {offset}: {problem}")
    {
        Structure = structure;
        Offset = offset;
    }

    public string Structure { get; }

    public long Offset { get; }
}
