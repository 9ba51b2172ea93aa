namespace Fleet.Core.Telemetry;

/// <summary>The validation limits of terminal protocol v1 (DESIGN.md). Defaults are the protocol's.</summary>
public sealed record TelemetryLimits
{
    public static readonly TelemetryLimits Default = new();

    public int MaxPayloadBytes { get; init; } = 64 * 1024;

    /// <summary>A store-and-forward backlog may carry at most this many reports in one array.</summary>
    public int MaxReportsPerPayload { get; init; } = 1000;

    public TimeSpan MaxClockAhead { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(30);
    public double MaxSpeedKmh { get; init; } = 300;
}
