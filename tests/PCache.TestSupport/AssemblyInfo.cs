// The daemon, its sockets and the tools the tests drive are Linux-only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
