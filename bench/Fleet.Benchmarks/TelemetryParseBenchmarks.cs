using System.Text;
using BenchmarkDotNet.Attributes;
using Fleet.Core.Telemetry;

namespace Fleet.Benchmarks;

/// <summary>
/// The gateway's per-report work: parse the JSON and validate every field (ranges, clock window, speed) into a
/// <see cref="TelemetryFix"/>. The payload buffer, the fix buffer and the reject list are the caller's and reused, as
/// the gateway reuses them; target ≤ 2 µs and ≤ 1 allocation per report.
/// </summary>
public class TelemetryParseBenchmarks
{
    public const int BacklogReports = 100;

    private readonly TelemetryFix[] _fixes = new TelemetryFix[TelemetryLimits.Default.MaxReportsPerPayload];
    private readonly List<TelemetryReject> _rejects = new(16);
    private byte[] _one = [];
    private byte[] _backlog = [];

    [GlobalSetup]
    public void Setup()
    {
        _one = Encoding.UTF8.GetBytes(Payloads.OneReport(Payloads.NowMs));
        _backlog = Encoding.UTF8.GetBytes(Payloads.Backlog(Payloads.NowMs, BacklogReports));

        // A benchmark of the reject path would measure nothing useful: prove both payloads are accepted whole.
        if (ParseValidateOneReport() != 1 || ParseValidateBacklogPerReport() != BacklogReports || _rejects.Count != 0)
        {
            throw new InvalidOperationException("The benchmark payloads must parse without rejects.");
        }

        Settle.Run(ParseValidateOneReport);
        Settle.Run(ParseValidateBacklogPerReport);
    }

    [Benchmark(Description = "parse+validate, one report")]
    public int ParseValidateOneReport()
    {
        _rejects.Clear();
        return TelemetryParser.Parse(_one, Payloads.NowMs, _fixes, _rejects);
    }

    [Benchmark(Description = "parse+validate, 100-report backlog, per report", OperationsPerInvoke = BacklogReports)]
    public int ParseValidateBacklogPerReport()
    {
        _rejects.Clear();
        return TelemetryParser.Parse(_backlog, Payloads.NowMs, _fixes, _rejects);
    }
}
