// The daemon, its sockets and the tools these tests drive are Linux-only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
