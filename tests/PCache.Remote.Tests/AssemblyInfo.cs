// The daemon, its sockets, nbdkit, qemu-nbd and Ceph are Linux-only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
