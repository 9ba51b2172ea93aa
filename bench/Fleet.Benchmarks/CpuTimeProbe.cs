using System.Diagnostics;
using BenchmarkDotNet.Running;

namespace Fleet.Benchmarks;

/// <summary>What <see cref="CpuTimeProbe"/> measured for one benchmark, per operation.</summary>
internal sealed record ProbeResult(double CpuNsPerOp, double WallNsPerOp, double? AllocatedBytesPerOp, long Operations);

/// <summary>
/// Re-runs a benchmark in a plain loop and divides the process's CPU time (user + system, from getrusage through
/// <see cref="Environment.CpuUsage"/>) by the operations done. On this machine two cores are shared by several builds
/// and test runs, so wall time includes the stretches when the benchmark thread is not even scheduled; CPU time
/// counts only the time it ran. BenchmarkDotNet's wall-clock figures are kept beside it. Also counts the bytes
/// allocated on the benchmark thread, exactly, as a cross-check of the MemoryDiagnoser.
/// </summary>
internal static class CpuTimeProbe
{
    public static ProbeResult Measure(BenchmarkCase benchmark, TimeSpan duration)
    {
        var descriptor = benchmark.Descriptor;
        var instance = Activator.CreateInstance(descriptor.Type) ?? throw new InvalidOperationException($"Cannot create {descriptor.Type}.");
        descriptor.GlobalSetupMethod?.Invoke(instance, null);
        try
        {
            var method = descriptor.WorkloadMethod;
            Action run;
            var synchronous = method.ReturnType == typeof(int);
            if (synchronous)
            {
                var func = method.CreateDelegate<Func<int>>(instance);
                run = () => func();
            }
            else if (method.ReturnType == typeof(Task))
            {
                var func = method.CreateDelegate<Func<Task>>(instance);
                run = () => func().GetAwaiter().GetResult();
            }
            else
            {
                throw new InvalidOperationException($"{method.Name} must return int or Task to be probed.");
            }

            if (synchronous)
            {
                var settle = method.CreateDelegate<Func<int>>(instance);
                Settle.Run(settle, rounds: 3);
            }

            // Warm up (caches) and find a chunk that takes ≥ 10 ms, so clock reads cost nothing.
            var chunk = 1L;
            var stopwatch = Stopwatch.StartNew();
            while (true)
            {
                var start = stopwatch.Elapsed;
                for (var i = 0L; i < chunk; i++)
                {
                    run();
                }

                if (stopwatch.Elapsed - start >= TimeSpan.FromMilliseconds(10) && stopwatch.Elapsed >= TimeSpan.FromMilliseconds(300))
                {
                    break;
                }

                chunk = stopwatch.Elapsed - start < TimeSpan.FromMilliseconds(10) ? chunk * 2 : chunk;
            }

            var invocations = 0L;
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var wall = Stopwatch.StartNew();
            while (wall.Elapsed < duration)
            {
                for (var i = 0L; i < chunk; i++)
                {
                    run();
                }

                invocations += chunk;
            }

            wall.Stop();
            var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
            var operations = invocations * descriptor.OperationsPerInvoke;
            return new ProbeResult(
                cpu.Ticks * 100.0 / operations,
                wall.Elapsed.Ticks * 100.0 / operations,
                synchronous ? (double)allocated / operations : null,
                operations);
        }
        finally
        {
            descriptor.GlobalCleanupMethod?.Invoke(instance, null);
        }
    }
}
