using System.Globalization;

namespace Fleet.Simulator.Suite;

/// <summary>The targets, checked against one run's figures.</summary>
public static class SuiteTargets
{
    private const double MiB = 1024;

    public static IReadOnlyList<TargetCheck> Check(SuiteResult result, SuiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(options);
        var checks = new List<TargetCheck>();
        var limitMs = options.LatencyLimit.TotalMilliseconds;
        foreach (var scenario in result.Scenarios)
        {
            var rssLimitGiB = scenario.Name == SuiteOptions.FleetName ? 3 : 2;
            checks.Add(new TargetCheck(scenario.Name, "zero lost (persisted = sent)", Invariant($"{scenario.Persisted} of {scenario.Sent}"), !scenario.Lost));
            checks.Add(new TargetCheck(scenario.Name, Invariant($"p99 ≤ {limitMs:0} ms"), Invariant($"{scenario.Latency.P99} ms"), scenario.Latency.Samples > 0 && scenario.Latency.P99 <= limitMs));
            if (scenario.FleetPeakRssMiB is { } rss)
            {
                checks.Add(new TargetCheck(scenario.Name, Invariant($"Fleet RSS ≤ {rssLimitGiB} GiB"), Invariant($"{rss:F0} MiB"), rss <= rssLimitGiB * MiB));
            }

            checks.Add(new TargetCheck(scenario.Name, Invariant($"rate {scenario.TargetRate:F0}/s kept"), Invariant($"{scenario.AchievedRate:F0}/s"), scenario.AchievedRate >= 0.95 * scenario.TargetRate));
        }

        if (result.Ramp is { } ramp && result.Baseline is { } baseline && baseline.CeilingRate > 0)
        {
            var ratio = ramp.SustainedRate / baseline.CeilingRate;
            checks.Add(new TargetCheck(SuiteOptions.RampName, "sustained ≥ 0.5× broker ceiling", Invariant($"{ramp.SustainedRate:F0}/s = {ratio:F2}× {baseline.CeilingRate:F0}/s"), ratio >= 0.5));
        }

        return checks;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
