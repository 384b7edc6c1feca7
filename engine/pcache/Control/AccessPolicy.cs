namespace PCache.Daemon.Control;

/// <summary>
/// Who may use the control socket: root, the daemon's own user, and members of one configured
/// group. The socket's file mode (0660) keeps most others out already; this check also covers a
/// socket made reachable on purpose or by mistake (a 0666 mode, a shared group).
/// </summary>
internal sealed class AccessPolicy(uint daemonUid, uint? groupId, string? groupName)
{
    public uint DaemonUid { get; } = daemonUid;

    public uint? GroupId { get; } = groupId;

    public bool Allows(PeerCredentials peer) =>
        peer.Uid == 0 || peer.Uid == DaemonUid ||
        (GroupId is { } g && (peer.Gid == g || Array.IndexOf(peer.Groups, g) >= 0));

    public string Denial(PeerCredentials? peer)
    {
        string who = peer is { } p ? $"uid {p.Uid} (gid {p.Gid}, pid {p.Pid})" : "a client whose credentials cannot be read";
        string allowed = DaemonUid == 0 ? "root" : $"root and uid {DaemonUid} (the daemon's user)";
        if (GroupId is not null) allowed += $" and members of group '{groupName ?? GroupId.ToString()}'";
        return $"permission denied: {who} may not use this pcache daemon; only {allowed} may";
    }
}
