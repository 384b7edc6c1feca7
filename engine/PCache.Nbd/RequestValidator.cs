namespace PCache.Nbd;

/// <summary>
/// Decides, before any work is done, whether a request may run: the error values follow the NBD
/// spec's guidance (ENOSPC for writing past the end, EOVERFLOW for an over-size payload-less READ,
/// EINVAL for everything malformed). Checks run in the order type, flags, permission, length, range, alignment.
/// </summary>
internal static class RequestValidator
{
    private const ulong AlignmentMask = NbdWire.MinimumBlockSize - 1;

    public static NbdErrno Validate(Session session, NbdCommand command, CommandFlags flags, ulong offset, uint length)
    {
        // FUA is accepted on every command once SEND_FUA is advertised; it only matters for writes.
        var allowed = CommandFlags.Fua;
        switch (command)
        {
            case NbdCommand.Read:
                if (session.Structured)
                    allowed |= CommandFlags.DontFragment;
                break;
            case NbdCommand.Write:
            case NbdCommand.Flush:
            case NbdCommand.Trim:
            case NbdCommand.Cache:
                break;
            case NbdCommand.WriteZeroes:
                allowed |= CommandFlags.NoHole;
                if (session.FastZero)
                    allowed |= CommandFlags.FastZero;
                break;
            case NbdCommand.BlockStatus:
                allowed |= CommandFlags.ReqOne;
                break;
            default:
                return NbdErrno.EINVAL;
        }
        if ((flags & ~allowed) != 0)
            return NbdErrno.EINVAL;

        bool writes = command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (writes && session.ReadOnly)
            return NbdErrno.EPERM;

        if (command == NbdCommand.Flush)
            return offset == 0 && length == 0 ? NbdErrno.None : NbdErrno.EINVAL;
        if (command == NbdCommand.BlockStatus && !session.BaseAllocation)
            return NbdErrno.EINVAL;

        if (length == 0)
            return NbdErrno.EINVAL;
        if (length > NbdWire.MaximumPayload)
        {
            if (command == NbdCommand.Read)
                return NbdErrno.EOVERFLOW;
            if (command == NbdCommand.Write)
                return NbdErrno.EINVAL;
        }

        ulong size = (ulong)session.Size;
        if (offset > size || length > size - offset)
            return command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdErrno.ENOSPC : NbdErrno.EINVAL;

        if (((offset | length) & AlignmentMask) != 0)
            return NbdErrno.EINVAL;
        return NbdErrno.None;
    }
}
