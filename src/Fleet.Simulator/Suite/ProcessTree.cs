using System.Globalization;

namespace Fleet.Simulator.Suite;

/// <summary>
/// CPU time and memory of a process and everything under it, read from <c>/proc</c>. A process tree because
/// PostgreSQL works in one backend per connection plus background workers, all children of the postmaster.
/// </summary>
public static class ProcessTree
{
    // USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    /// <summary>
    /// CPU seconds (user + system) of <paramref name="rootPid"/> and its descendants, plus the children they have
    /// already reaped (cutime/cstime), so a backend that exits mid-run still counts. Null when the process is gone.
    /// </summary>
    public static double? CpuSeconds(int rootPid)
    {
        var stats = ReadAll();
        if (!stats.ContainsKey(rootPid))
        {
            return null;
        }

        var children = new Dictionary<int, List<int>>();
        foreach (var (pid, stat) in stats)
        {
            if (!children.TryGetValue(stat.ParentPid, out var list))
            {
                children[stat.ParentPid] = list = [];
            }

            list.Add(pid);
        }

        long ticks = 0;
        var pending = new Stack<int>();
        pending.Push(rootPid);
        while (pending.Count > 0)
        {
            var pid = pending.Pop();
            if (!stats.TryGetValue(pid, out var stat))
            {
                continue;
            }

            ticks += stat.Ticks;
            if (children.TryGetValue(pid, out var list))
            {
                foreach (var child in list)
                {
                    pending.Push(child);
                }
            }
        }

        return ticks / TicksPerSecond;
    }

    /// <summary>
    /// CPU seconds the whole machine has been busy (every core, all processes: user, nice, system, irq, softirq,
    /// steal) since boot, from the first line of <c>/proc/stat</c>; null where there is none.
    /// </summary>
    public static double? MachineBusySeconds()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal
            long busy = 0;
            foreach (var index in new[] { 1, 2, 3, 6, 7, 8 })
            {
                busy += long.Parse(fields[index], CultureInfo.InvariantCulture);
            }

            return busy / TicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Resident set size of one process in bytes (VmRSS), or null when it is gone.</summary>
    public static long? RssBytes(int pid) => ReadStatusKilobytes(pid, "VmRSS:") * 1024;

    /// <summary>Peak resident set size since the process started (VmHWM), or null.</summary>
    public static long? PeakRssBytes(int pid) => ReadStatusKilobytes(pid, "VmHWM:") * 1024;

    private static long? ReadStatusKilobytes(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    var number = line[key.Length..].Trim().Split(' ')[0];
                    return long.Parse(number, NumberStyles.Integer, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            // Gone between listing and reading.
        }

        return null;
    }

    private static Dictionary<int, (int ParentPid, long Ticks)> ReadAll()
    {
        var result = new Dictionary<int, (int, long)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string text;
            try
            {
                text = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            // The command name is in parentheses and may hold spaces; the fields after it are positional.
            var close = text.LastIndexOf(')');
            if (close < 0)
            {
                continue;
            }

            var fields = text[(close + 2)..].Split(' ');
            // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
            if (fields.Length < 15)
            {
                continue;
            }

            var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
            long ticks = 0;
            for (var f = 11; f <= 14; f++)
            {
                ticks += long.Parse(fields[f], CultureInfo.InvariantCulture);
            }

            result[pid] = (parent, ticks);
        }

        return result;
    }
}
