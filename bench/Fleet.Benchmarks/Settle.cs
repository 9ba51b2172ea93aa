using System.Diagnostics;

namespace Fleet.Benchmarks;

/// <summary>
/// Runs a workload in bursts with pauses before it is measured. Hot methods are recompiled at tier 1 (with dynamic PGO)
/// by a background thread; on this loaded 2-core box that thread can be starved for seconds, and measurements then mix
/// in tier-0 code (seen: a 1 µs parse measured at 25-40 µs). The pauses hand it the core.
/// </summary>
internal static class Settle
{
    public static void Run(Func<int> workload, int rounds = 6)
    {
        var sink = 0;
        for (var round = 0; round < rounds; round++)
        {
            var stopwatch = Stopwatch.StartNew();
            while (stopwatch.ElapsedMilliseconds < 100)
            {
                for (var i = 0; i < 64; i++)
                {
                    sink += workload();
                }
            }

            Thread.Sleep(150);
        }

        GC.KeepAlive(sink);
    }
}
