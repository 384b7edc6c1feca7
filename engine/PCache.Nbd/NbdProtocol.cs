namespace PCache.Nbd;

/// <summary>Wire constants of the fixed-newstyle NBD protocol (all integers big-endian on the wire).</summary>
internal static class NbdMagic
{
    public const ulong InitPasswd = 0x4e42444d41474943;   // "NBDMAGIC"
    public const ulong IHaveOpt = 0x49484156454F5054;     // "IHAVEOPT"
    public const ulong OptionReply = 0x0003e889045565a9;
    public const uint Request = 0x25609513;
    public const uint SimpleReply = 0x67446698;
    public const uint StructuredReply = 0x668e33ef;
}

[Flags]
internal enum HandshakeFlags : ushort
{
    FixedNewstyle = 1,
    NoZeroes = 2,
}

[Flags]
internal enum ClientFlags : uint
{
    FixedNewstyle = 1,
    NoZeroes = 2,
}

internal enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 9,
    SetMetaContext = 10,
    ExtendedHeaders = 11,
}

internal enum OptionReplyType : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    MetaContext = 4,
    ErrUnsup = 0x80000001,
    ErrPolicy = 0x80000002,
    ErrInvalid = 0x80000003,
    ErrPlatform = 0x80000004,
    ErrTlsReqd = 0x80000005,
    ErrUnknown = 0x80000006,
    ErrShutdown = 0x80000007,
    ErrBlockSizeReqd = 0x80000008,
    ErrTooBig = 0x80000009,
}

internal enum InfoType : ushort
{
    Export = 0,
    Name = 1,
    Description = 2,
    BlockSize = 3,
}

[Flags]
internal enum TransmissionFlags : ushort
{
    HasFlags = 1 << 0,
    ReadOnly = 1 << 1,
    SendFlush = 1 << 2,
    SendFua = 1 << 3,
    Rotational = 1 << 4,
    SendTrim = 1 << 5,
    SendWriteZeroes = 1 << 6,
    SendDf = 1 << 7,
    CanMultiConn = 1 << 8,
    SendCache = 1 << 10,
    SendFastZero = 1 << 11,
}

internal enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
}

[Flags]
internal enum CommandFlags : ushort
{
    Fua = 1 << 0,
    NoHole = 1 << 1,
    DontFragment = 1 << 2,
    ReqOne = 1 << 3,
    FastZero = 1 << 4,
}

internal enum ChunkType : ushort
{
    None = 0,
    OffsetData = 1,
    OffsetHole = 2,
    BlockStatus = 5,
    Error = 0x8001,
    ErrorOffset = 0x8002,
}

internal static class NbdWire
{
    public const int OptionHeaderSize = 16;
    public const int OptionReplyHeaderSize = 20;
    public const int RequestHeaderSize = 28;
    public const int SimpleReplyHeaderSize = 16;
    public const int ChunkHeaderSize = 20;
    public const ushort ReplyFlagDone = 1;

    /// <summary>Bytes in front of READ data: the larger of a simple reply header and a chunk header plus its offset.</summary>
    public const int ReadPrefixSize = ChunkHeaderSize + 8;

    /// <summary>The only metadata context we offer; its id is transient and per connection.</summary>
    public const string BaseAllocation = "base:allocation";
    public const uint BaseAllocationId = 1;

    /// <summary>Protocol limit for strings (names, messages, queries).</summary>
    public const int MaxStringLength = 4096;

    public const uint MinimumBlockSize = 512;
    public const uint PreferredBlockSize = 4096;
    public const uint MaximumPayload = 32 * 1024 * 1024;
}
