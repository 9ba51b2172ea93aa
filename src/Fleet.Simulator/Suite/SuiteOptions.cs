namespace Fleet.Simulator.Suite;

/// <summary>What the benchmark suite drives, where the parts run, and how long each scenario lasts.</summary>
public sealed record SuiteOptions
{
    public const string BaselineName = "broker-baseline";
    public const string SteadyName = "steady-23k";
    public const string FleetName = "fleet-100k";
    public const string RampName = "ramp";

    public static readonly IReadOnlyList<string> AllScenarios = [BaselineName, SteadyName, FleetName, RampName];

    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 1883;

    /// <summary>The load-mode user that publishes for any terminal under fleet/v1.</summary>
    public string LoadUsername { get; init; } = "fleet-simulator";
    public string? LoadPassword { get; init; }

    /// <summary>The broker user for the baseline: publishes and subscribes under <see cref="BaselinePrefix"/>.</summary>
    public string BenchUsername { get; init; } = "fleet-bench";
    public string? BenchPassword { get; init; }
    public string BaselinePrefix { get; init; } = "bench/v1";

    /// <summary>The platform's database (read-only here): positions and rejects are counted from it.</summary>
    public string Database { get; init; } = "";

    public Uri HubBaseAddress { get; init; } = new("http://127.0.0.1:5080");
    public string HubUsername { get; init; } = "supervisor";
    public string? HubPassword { get; init; }

    /// <summary>The demo credentials file: the seeded terminals (and the hub user's password when not given).</summary>
    public string CredentialsPath { get; init; } = "";

    public int? FleetPid { get; init; }
    public int? MosquittoPid { get; init; }
    public int? PostgresPid { get; init; }

    public IReadOnlyList<string> Scenarios { get; init; } = AllScenarios;

    public string OutputDirectory { get; init; } = "bench-results";

    public int LoadConnections { get; init; } = 4;

    public int SteadyVehicles { get; init; } = 23_000;
    public TimeSpan SteadyInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan SteadyDuration { get; init; } = TimeSpan.FromMinutes(5);

    public int FleetVehicles { get; init; } = 100_000;
    public TimeSpan FleetInterval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan FleetDuration { get; init; } = TimeSpan.FromMinutes(2);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The paced baseline (same vehicles and rate as steady) and the flat-out ceiling run.</summary>
    public TimeSpan BaselineDuration { get; init; } = TimeSpan.FromSeconds(40);
    public TimeSpan CeilingDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Low enough to hold on a busy machine (a quiet one holds five times this); lower steps only add suite time.</summary>
    public double RampStartRate { get; init; } = 8_000;
    public double RampFactor { get; init; } = 1.25;
    public TimeSpan RampStepDuration { get; init; } = TimeSpan.FromSeconds(20);
    public int RampMaxSteps { get; init; } = 16;

    /// <summary>Steps after the first miss that narrow the answer down between the last rate held and that miss.</summary>
    public int RampRefineSteps { get; init; } = 2;

    /// <summary>The latency a step may not exceed at p99 to count as sustained.</summary>
    public TimeSpan LatencyLimit { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A pause before each run, for the platform to finish the previous one.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>How long a run's end waits for the pipeline to take in what the broker still queues for it.</summary>
    public TimeSpan DrainLimit { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Free text for the report: the machine, what else ran on it.</summary>
    public string? Note { get; init; }

    /// <summary>Short durations and a smaller fleet, for trying the harness out.</summary>
    public static SuiteOptions Quick(SuiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with
        {
            SteadyDuration = TimeSpan.FromSeconds(30),
            FleetDuration = TimeSpan.FromSeconds(30),
            Warmup = TimeSpan.FromSeconds(10),
            BaselineDuration = TimeSpan.FromSeconds(15),
            CeilingDuration = TimeSpan.FromSeconds(8),
            RampStepDuration = TimeSpan.FromSeconds(8),
            RampMaxSteps = 8,
            RampRefineSteps = 1,
            Settle = TimeSpan.FromSeconds(5),
        };
    }
}
