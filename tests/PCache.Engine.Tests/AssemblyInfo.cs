// The engine (pmem mappings, libc) and the shared test support are Linux-only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
