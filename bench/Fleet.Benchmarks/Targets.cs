namespace Fleet.Benchmarks;

/// <summary>A benchmark's target from issue 4: time per operation (a report, a fix) and, where set, allocations.</summary>
internal sealed record Target(double MaxNs, int? MaxAllocations)
{
    /// <summary>Keyed by benchmark method; benchmarks without an entry are reported, not judged.</summary>
    public static readonly IReadOnlyDictionary<string, Target> ByMethod = new Dictionary<string, Target>(StringComparer.Ordinal)
    {
        [nameof(TelemetryParseBenchmarks.ParseValidateOneReport)] = new(2_000, 1),
        [nameof(TelemetryParseBenchmarks.ParseValidateBacklogPerReport)] = new(2_000, 1),
        [nameof(RuleEvaluationBenchmarks.FenceRulesPerFix)] = new(5_000, null),
        [nameof(RuleEvaluationBenchmarks.GrainTurnPerFix)] = new(5_000, null),
    };
}
