using Fleet.Core.Roads;
using Fleet.Simulator.Behaviour;

namespace Fleet.Simulator.Running;

/// <summary>How a run connects and paces itself.</summary>
public sealed record SimulationOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 1883;

    /// <summary>Each vehicle reports once per interval; the vehicles' slots are spread evenly over it.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Vehicles that connect with their own terminal credentials; the rest go over the load connections.</summary>
    public int OwnConnections { get; init; } = 2000;

    /// <summary>The broker user that may publish for any terminal (load mode); required when vehicles exceed <see cref="OwnConnections"/>.</summary>
    public string? LoadUsername { get; init; }
    public string? LoadPassword { get; init; }

    /// <summary>Connections that the load-mode vehicles are spread over.</summary>
    public int LoadConnections { get; init; } = 4;

    /// <summary>Stop by itself after this long; null runs until cancelled.</summary>
    public TimeSpan? Duration { get; init; }

    public TimeSpan StatsEvery { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A report started later than this after its slot counts as behind schedule.</summary>
    public TimeSpan BehindTolerance { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the stop waits for outstanding acknowledgements.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Own-credential connections opened at once while starting.</summary>
    public int ConnectParallelism { get; init; } = 32;

    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(60);

    public int Seed { get; init; } = RoadNetworkGenerator.DefaultSeed;

    public BehaviourSettings Behaviour { get; init; } = BehaviourSettings.Default;

    /// <summary>Topics are {prefix}/{terminal id}/telemetry|status; the benchmark's broker baseline uses its own prefix.</summary>
    public string TopicPrefix { get; init; } = "fleet/v1";

    /// <summary>A label for the stats lines ("simulate" or "bench").</summary>
    public string Label { get; init; } = "simulate";

    /// <summary>
    /// Called once per telemetry publish when its outcome is known, with a copy of the payload: lets a test account for
    /// every report the broker acknowledged. Null (the default) costs nothing.
    /// </summary>
    public Action<TelemetryOutcome>? OnTelemetryOutcome { get; init; }
}

/// <summary>The fate of one telemetry publish: <paramref name="Acked"/> when the broker's PUBACK reported success.</summary>
public readonly record struct TelemetryOutcome(string TerminalId, ReadOnlyMemory<byte> Payload, bool Acked);

/// <summary>What a run did.</summary>
/// <param name="Sent">Publishes handed to the client (telemetry and status).</param>
/// <param name="Acked">Publishes the broker acknowledged with success.</param>
/// <param name="Errors">Publishes refused or failed, and connections refused.</param>
/// <param name="TelemetryMessages">Telemetry publishes (a backlog array counts once).</param>
/// <param name="Reports">Reports inside the telemetry publishes.</param>
/// <param name="ReportsAcked">Reports inside acknowledged telemetry publishes.</param>
/// <param name="Behind">Reports started later than the tolerance after their slot.</param>
/// <param name="Elapsed">The whole run, connecting and disconnecting included.</param>
/// <param name="CpuTime">Process CPU time over the whole run.</param>
/// <param name="SendingElapsed">From the first slot until the last report was acknowledged.</param>
/// <param name="SendingCpuTime">Process CPU time over <paramref name="SendingElapsed"/>.</param>
public sealed record SimulationSummary(
    int Vehicles,
    int Connections,
    long Sent,
    long Acked,
    long Errors,
    long TelemetryMessages,
    long Reports,
    long ReportsAcked,
    long Behind,
    TimeSpan Elapsed,
    TimeSpan CpuTime,
    TimeSpan SendingElapsed,
    TimeSpan SendingCpuTime)
{
    /// <summary>Acknowledged reports per second while sending.</summary>
    public double ReportsPerSecond => SendingElapsed > TimeSpan.Zero ? ReportsAcked / SendingElapsed.TotalSeconds : 0;

    /// <summary>CPU microseconds per acknowledged report while sending.</summary>
    public double CpuMicrosecondsPerReport => ReportsAcked > 0 ? SendingCpuTime.TotalMilliseconds * 1000 / ReportsAcked : 0;
}
