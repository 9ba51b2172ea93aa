using Fleet.Core.Telemetry;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Reports;
using Fleet.Simulator.Running;

namespace Fleet.Simulator.Tests;

/// <summary>Vehicles homed by plate across a few regions, and helpers to read what they send.</summary>
public static class TestFleet
{
    private static readonly string[] Prefixes = ["蒙A", "蒙B", "蒙K", "蒙D"];

    [ThreadStatic]
    private static TelemetryFix[]? _fixes;

    [ThreadStatic]
    private static List<TelemetryReject>? _rejects;

    public static IReadOnlyList<TerminalCredential> Terminals(int count, string prefix = "T0145") =>
        Enumerable.Range(1, count)
            .Select(i => new TerminalCredential($"{prefix}{i:D7}", $"pw-{i}", i, $"{Prefixes[i % Prefixes.Length]}{(i % 5 == 0 ? "D" : "")}{i:D5}"))
            .ToList();

    public static IReadOnlyList<VehicleProfile> Profiles(int count, int seed = 7) =>
        Terminals(count).Select(t => FleetLoader.FromPlate(t, seed)).ToList();

    public static IReadOnlyList<SimulatedVehicle> Vehicles(int count, BehaviourSettings? behaviour = null, int seed = 7) =>
        SimulationRunner.CreateVehicles(Profiles(count, seed), behaviour ?? BehaviourSettings.Default, seed);

    /// <summary>Shanghai wall-clock time as an instant.</summary>
    public static DateTimeOffset Shanghai(int year, int month, int day, int hour, int minute = 0) =>
        new(year, month, day, hour, minute, 0, TimeSpan.FromHours(8));

    /// <summary>Parses one telemetry payload with the gateway's parser; fails the test on any reject.</summary>
    public static TelemetryFix[] Parse(ReadOnlySpan<byte> payload, long nowMs)
    {
        // Reused: the parser wants room for a full backlog, and tests parse hundreds of thousands of payloads.
        var fixes = _fixes ??= new TelemetryFix[TelemetryLimits.Default.MaxReportsPerPayload];
        var rejects = _rejects ??= [];
        rejects.Clear();
        var count = TelemetryParser.Parse(payload, nowMs, fixes, rejects);
        Assert.True(rejects.Count == 0, $"rejected: {string.Join(", ", rejects)} in {System.Text.Encoding.UTF8.GetString(payload)}");
        return fixes[..count];
    }

    /// <summary>The telemetry payloads in an outbox, parsed.</summary>
    public static IEnumerable<TelemetryFix[]> Telemetry(Outbox outbox, long nowMs)
    {
        var result = new List<TelemetryFix[]>();
        for (var i = 0; i < outbox.Count; i++)
        {
            if (outbox[i].Kind == OutboxKind.Telemetry)
            {
                result.Add(Parse(outbox.Payload(outbox[i]), nowMs));
            }
        }

        return result;
    }
}
