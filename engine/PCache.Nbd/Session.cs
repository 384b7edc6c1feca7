namespace PCache.Nbd;

/// <summary>What option haggling settled for one connection; fixed for the whole transmission phase.</summary>
internal sealed class Session
{
    public Session(IBlockExport export, bool structured, bool baseAllocation)
    {
        Export = export;
        Size = export.Size;
        Structured = structured;
        BaseAllocation = structured && baseAllocation;
        Flags = FlagsFor(export, structured);
    }

    public IBlockExport Export { get; }

    /// <summary>The size the client was told; requests are checked against it even if the export changes later.</summary>
    public long Size { get; }

    public bool Structured { get; }

    /// <summary>base:allocation was selected for this export, so BLOCK_STATUS is allowed.</summary>
    public bool BaseAllocation { get; }

    public TransmissionFlags Flags { get; }

    public bool ReadOnly => (Flags & TransmissionFlags.ReadOnly) != 0;

    public bool FastZero => (Flags & TransmissionFlags.SendFastZero) != 0;

    /// <summary>
    /// Advertise exactly what the transmission code implements. Multi-conn is safe because every
    /// request acts on the shared export and <see cref="IBlockExport.Flush"/> covers every connection.
    /// </summary>
    public static TransmissionFlags FlagsFor(IBlockExport export, bool structured)
    {
        var flags = TransmissionFlags.HasFlags | TransmissionFlags.SendFlush | TransmissionFlags.SendFua
            | TransmissionFlags.SendCache | TransmissionFlags.CanMultiConn;
        if (export.ReadOnly)
            flags |= TransmissionFlags.ReadOnly;
        else
        {
            flags |= TransmissionFlags.SendTrim | TransmissionFlags.SendWriteZeroes;
            if (export.FastZero)
                flags |= TransmissionFlags.SendFastZero;
        }
        // DF is trivially honoured (a READ is always one chunk) but only exists with structured replies.
        if (structured)
            flags |= TransmissionFlags.SendDf;
        return flags;
    }
}
