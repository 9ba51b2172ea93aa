using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BenchmarkDotNet.Validators;
using Perfolizer.Horology;

namespace Fleet.Benchmarks;

/// <summary>Parses the command line, runs BenchmarkDotNet in process, probes CPU time and writes micro-summary.json.</summary>
internal static class MicroBench
{
    private const string Usage =
        """
        Fleet microbenchmarks (BenchmarkDotNet, in-process).
          --quick            short job (2 warm-up + 5 measured iterations of 200 ms) and a 1 s CPU-time probe
          --artifacts DIR    where reports and micro-summary.json go (default: bench-results/micro)
          --filter GLOB...   only benchmarks whose full name matches, e.g. --filter *Telemetry* *Rule*
        The COPY batch writer needs FLEET_BENCH_DATABASE (a PostgreSQL connection string); without it, it is skipped.
        """;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static int Run(string[] args)
    {
        if (!TryParse(args, out var quick, out var artifacts, out var filters, out var error))
        {
            Console.Error.WriteLine(error);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var skipped = new List<SkippedBenchmark>();
        var types = new List<Type> { typeof(MqttDecodeBenchmarks), typeof(TelemetryParseBenchmarks), typeof(RuleEvaluationBenchmarks), typeof(PositionCopyEncoderBenchmarks) };
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(PositionWriterBenchmarks.DatabaseVariable)))
        {
            const string reason = $"{PositionWriterBenchmarks.DatabaseVariable} is not set; set it to a PostgreSQL connection string (./fleet bench --micro does) to measure the COPY batch writer.";
            Console.WriteLine($"SKIPPED {nameof(PositionWriterBenchmarks)}: {reason}");
            skipped.Add(new SkippedBenchmark(nameof(PositionWriterBenchmarks), reason));
        }
        else
        {
            types.Add(typeof(PositionWriterBenchmarks));
        }

        Directory.CreateDirectory(artifacts);
        var config = CreateConfig(quick, artifacts, filters);
        var summary = BenchmarkRunner.Run([.. types], config).SingleOrDefault();
        var results = new List<BenchmarkResult>();
        var failed = false;
        foreach (var report in summary?.Reports ?? [])
        {
            var result = Judge(report, quick);
            failed |= result.Error is not null;
            results.Add(result);
        }

        var micro = new MicroSummary(
            DateTimeOffset.UtcNow,
            quick ? "quick" : "full",
            Machine(),
            "cpu-time",
            "Targets are judged on CPU time per operation (process user+system time over a plain loop), because the 2 shared cores "
            + "of this machine preempt the benchmark thread and wall time then counts time it did not run. BenchmarkDotNet's wall-clock "
            + "mean and median are given beside it. Allocations come from BenchmarkDotNet's MemoryDiagnoser; 0 B/op means no allocation.",
            results,
            skipped,
            results.Where(r => r.Pass is not null).All(r => r.Pass == true));
        var path = Path.Combine(artifacts, "micro-summary.json");
        File.WriteAllText(path, JsonSerializer.Serialize(micro, Json));

        PrintTable(results, skipped);
        Console.WriteLine($"Wrote {path}");
        if (failed || results.Count == 0)
        {
            Console.Error.WriteLine(results.Count == 0 ? "No benchmark ran (check --filter)." : "A benchmark failed; see the log above.");
            return 2;
        }

        return micro.AllTargetsMet ? 0 : 1;
    }

    private static ManualConfig CreateConfig(bool quick, string artifacts, List<string> filters)
    {
        // In process: no child project to generate and build, which a sandbox without a writable NuGet cache or a 2-core
        // box under load makes slow or impossible; it measures exactly this Release build.
        var job = (quick
                ? Job.Default.WithWarmupCount(2).WithIterationCount(5).WithIterationTime(TimeInterval.FromMilliseconds(200))
                : Job.Default.WithMaxIterationCount(40).WithMaxWarmupCount(20))
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId(quick ? "quick" : "full");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub, JsonExporter.Full)
            .AddValidator(JitOptimizationsValidator.FailOnError)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.JoinSummary);
        if (filters.Count > 0)
        {
            config = config.AddFilter(new GlobFilter([.. filters]));
        }

        return config;
    }

    private static BenchmarkResult Judge(BenchmarkReport report, bool quick)
    {
        var descriptor = report.BenchmarkCase.Descriptor;
        var name = $"{descriptor.Type.Name}.{descriptor.WorkloadMethod.Name}";
        var title = descriptor.WorkloadMethodDisplayInfo.Trim('\'');
        var stats = report.ResultStatistics;
        if (stats is null || !report.Success)
        {
            return new BenchmarkResult(name, title, null, null, null, null, null, null, null, descriptor.OperationsPerInvoke, null, null, null, "BenchmarkDotNet produced no result");
        }

        var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
        ProbeResult? probe = null;
        string? probeError = null;
        try
        {
            probe = CpuTimeProbe.Measure(report.BenchmarkCase, TimeSpan.FromSeconds(quick ? 1 : 3));
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.Reflection.TargetInvocationException)
        {
            probeError = ex.GetBaseException().Message;
        }

        Target.ByMethod.TryGetValue(descriptor.WorkloadMethod.Name, out var target);
        bool? pass = null;
        string? verdict = null;
        if (target is not null && probe is not null)
        {
            var timeOk = probe.CpuNsPerOp <= target.MaxNs;
            var allocationsOk = target.MaxAllocations is null || (allocated is { } bytes && bytes == 0);
            pass = timeOk && allocationsOk;
            verdict = FormattableString.Invariant($"{(timeOk ? "met" : "MISSED")}: {probe.CpuNsPerOp:F0} ns CPU ≤ {target.MaxNs:F0} ns")
                + (target.MaxAllocations is { } max ? FormattableString.Invariant($"; {(allocationsOk ? "met" : "MISSED")}: {allocated} B/op (≤ {max} allocation; 0 B proves none)") : string.Empty)
                + FormattableString.Invariant($"; wall mean {stats.Mean:F0} ns {(stats.Mean <= target.MaxNs ? "also meets" : "misses")} it");
        }

        return new BenchmarkResult(
            name,
            title,
            stats.Mean,
            stats.Median,
            stats.StandardDeviation,
            probe?.CpuNsPerOp,
            probe?.WallNsPerOp,
            allocated,
            probe?.AllocatedBytesPerOp,
            descriptor.OperationsPerInvoke,
            target,
            pass,
            verdict,
            probeError);
    }

    private static void PrintTable(List<BenchmarkResult> results, List<SkippedBenchmark> skipped)
    {
        Console.WriteLine();
        Console.WriteLine($"load average at the end: {LoadAverage()} on {Environment.ProcessorCount} cores");
        Console.WriteLine("| benchmark | wall mean | wall median | CPU time | allocated | target | result |");
        Console.WriteLine("|---|---:|---:|---:|---:|---|---|");
        foreach (var r in results)
        {
            var target = r.Target is null ? "—" : $"≤ {Ns(r.Target.MaxNs)}" + (r.Target.MaxAllocations is { } a ? $", ≤ {a} alloc" : string.Empty);
            var result = r.Error ?? (r.Pass switch { true => "pass", false => "FAIL", null => "—" });
            Console.WriteLine($"| {r.Title} | {Ns(r.WallMeanNs)} | {Ns(r.WallMedianNs)} | {Ns(r.CpuNsPerOp)} | {(r.AllocatedBytesPerOp is { } b ? $"{b} B" : "?")} | {target} | {result} |");
        }

        foreach (var s in skipped)
        {
            Console.WriteLine($"| {s.Name} | skipped | | | | | {s.Reason} |");
        }

        Console.WriteLine();
    }

    private static string Ns(double? ns) => ns switch
    {
        null => "?",
        < 10_000 => string.Create(CultureInfo.InvariantCulture, $"{ns:F0} ns"),
        < 10_000_000 => string.Create(CultureInfo.InvariantCulture, $"{ns / 1000:F1} µs"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ns / 1_000_000:F1} ms"),
    };

    private static MachineInfo Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return new MachineInfo(RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, Environment.ProcessorCount, cpu ?? "unknown", LoadAverage());
    }

    /// <summary>The 1/5/15-minute load averages: how shared the cores were while this ran.</summary>
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static bool TryParse(string[] args, out bool quick, out string artifacts, out List<string> filters, out string? error)
    {
        quick = false;
        artifacts = Path.GetFullPath(Path.Combine("bench-results", "micro"));
        filters = [];
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--artifacts" when i + 1 < args.Length:
                    artifacts = Path.GetFullPath(args[++i]);
                    break;
                case "--filter" when i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal):
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        filters.Add(args[++i]);
                    }

                    break;
                case "-h" or "--help":
                    error = "Usage:";
                    return false;
                default:
                    error = $"Unknown or incomplete argument '{args[i]}'.";
                    return false;
            }
        }

        return true;
    }
}

internal sealed record MachineInfo(string Os, string Runtime, int ProcessorCount, string Cpu, string LoadAverageAtEnd);

internal sealed record SkippedBenchmark(string Name, string Reason);

internal sealed record BenchmarkResult(
    string Name,
    string Title,
    double? WallMeanNs,
    double? WallMedianNs,
    double? WallStdDevNs,
    double? CpuNsPerOp,
    double? ProbeWallNsPerOp,
    long? AllocatedBytesPerOp,
    double? ProbeAllocatedBytesPerOp,
    int OperationsPerInvoke,
    Target? Target,
    bool? Pass,
    string? Verdict,
    string? Error);

internal sealed record MicroSummary(
    DateTimeOffset GeneratedAt,
    string Mode,
    MachineInfo Machine,
    string JudgedOn,
    string Note,
    List<BenchmarkResult> Benchmarks,
    List<SkippedBenchmark> Skipped,
    bool AllTargetsMet);
