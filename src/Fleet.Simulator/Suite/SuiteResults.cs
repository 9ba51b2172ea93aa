namespace Fleet.Simulator.Suite;

/// <summary>CPU seconds per 1,000 reports in each process tree (null: its pid was not given or it vanished).</summary>
public sealed record CpuPerThousand(double? Fleet, double? Mosquitto, double? Postgres, double? Generator)
{
    /// <summary>Fleet + Mosquitto + PostgreSQL: the platform's cost per 1,000 reports, the generator aside.</summary>
    public double? Platform => Fleet is null && Mosquitto is null && Postgres is null ? null : (Fleet ?? 0) + (Mosquitto ?? 0) + (Postgres ?? 0);
}

/// <summary>One scenario (or one ramp step): the counts over the whole run, the rates over the measured window.</summary>
public sealed record ScenarioResult
{
    public required string Name { get; init; }
    public int Vehicles { get; init; }
    public double TargetRate { get; init; }
    public double WarmupSeconds { get; init; }
    public double MeasuredSeconds { get; init; }

    /// <summary>Reports handed to the broker over the whole run, warm-up included.</summary>
    public long Sent { get; init; }
    public long Acked { get; init; }
    public long Errors { get; init; }

    /// <summary>Rows in positions for the run's time window (the baseline: messages the subscriber received).</summary>
    public long Persisted { get; init; }
    public long Rejected { get; init; }

    /// <summary>Reports the platform dropped as already seen or already stored (its /metrics counters over the run).</summary>
    public long Duplicated { get; init; }

    /// <summary>Reports acknowledged per second while sending.</summary>
    public double AchievedRate { get; init; }
    public required LatencyFigures Latency { get; init; }
    public required CpuPerThousand Cpu { get; init; }

    /// <summary>Per-process CPU in cores (CPU seconds per second) over the measured window, for the bottleneck.</summary>
    public required CpuPerThousand CpuCores { get; init; }
    public double? FleetPeakRssMiB { get; init; }
    public double DbRowsPerSecond { get; init; }
    public double HubFramesPerSecond { get; init; }
    public double HubBytesPerSecond { get; init; }

    /// <summary>Reports the generator started more than a second after their slot.</summary>
    public long GeneratorBehind { get; init; }
    public double GeneratorCores { get; init; }

    /// <summary>Cores busy on the whole machine over the window: more than the parts above means something else ran too.</summary>
    public double? MachineCores { get; init; }

    public bool Lost => Persisted != Sent;
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>The baseline: the paced run (same vehicles, rate, QoS and connections as steady) and the flat-out ceiling.</summary>
public sealed record BaselineResult(ScenarioResult Paced, double CeilingRate, double CeilingCores, double? CeilingMosquittoCores);

/// <summary>The ramp: its steps and the highest rate every check held at.</summary>
public sealed record RampResult(IReadOnlyList<ScenarioResult> Steps, double SustainedRate, string StopReason);

/// <summary>A target from the issue and whether this run met it.</summary>
public sealed record TargetCheck(string Scenario, string Target, string Measured, bool Met);

/// <summary>Everything one suite run measured.</summary>
public sealed record SuiteResult
{
    public required DateTimeOffset StartedAt { get; init; }
    public required double ElapsedSeconds { get; init; }
    public required string Machine { get; init; }
    public string? Note { get; init; }
    public BaselineResult? Baseline { get; init; }
    public IReadOnlyList<ScenarioResult> Scenarios { get; init; } = [];
    public RampResult? Ramp { get; init; }
    public IReadOnlyList<TargetCheck> Targets { get; init; } = [];
}
