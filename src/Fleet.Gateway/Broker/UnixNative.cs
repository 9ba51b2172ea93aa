using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Fleet.Gateway.Broker;

/// <summary>The few POSIX calls .NET lacks: sending a signal other than SIGKILL, and changing a file's owner.</summary>
internal static class UnixNative
{
    public const int SigHup = 1;
    public const int ErrorNoSuchProcess = 3; // ESRCH
    public const int ErrorNotPermitted = 1;  // EPERM

    /// <summary>Owner or group left unchanged by fchown(2).</summary>
    public const uint Unchanged = uint.MaxValue;

    /// <summary>kill(2); returns the errno, or 0 on success.</summary>
    public static int SendSignal(int processId, int signal) =>
        Kill(processId, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>fchown(2) on an open file; returns the errno, or 0 on success.</summary>
    public static int ChangeOwner(SafeFileHandle handle, uint userId, uint groupId)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return FChown((int)handle.DangerousGetHandle(), userId, groupId) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>A user's id from /etc/passwd (or a numeric id as is); null when unknown.</summary>
    public static uint? FindUserId(string name) => FindId("/etc/passwd", name);

    /// <summary>A group's id from /etc/group (or a numeric id as is); null when unknown.</summary>
    public static uint? FindGroupId(string name) => FindId("/etc/group", name);

    private static uint? FindId(string file, string name)
    {
        if (uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var numeric))
        {
            return numeric;
        }

        // Local accounts are what matter here (the mosquitto package creates its user and group locally).
        if (!File.Exists(file))
        {
            return null;
        }

        foreach (var line in File.ReadLines(file))
        {
            var fields = line.Split(':');
            if (fields.Length >= 3 && fields[0] == name
                && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                return id;
            }
        }

        return null;
    }

    // DllImport rather than LibraryImport: both signatures are blittable, so nothing is marshalled, and the project
    // needs no unsafe code enabled for the generator.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int sig);

    [DllImport("libc", EntryPoint = "fchown", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int FChown(int fd, uint owner, uint group);
}
