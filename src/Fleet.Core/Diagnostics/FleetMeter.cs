using System.Diagnostics.Metrics;

namespace Fleet.Core.Diagnostics;

/// <summary>
/// The one meter every Fleet layer records to. Instruments are named the OpenTelemetry way (<c>fleet.reports.accepted</c>,
/// unit <c>s</c> for durations); <c>/metrics</c> turns them into Prometheus names (<c>fleet_reports_accepted_total</c>,
/// <c>fleet_copy_duration_seconds</c>). Hot paths add per batch, never per message.
/// </summary>
public static class FleetMeter
{
    public const string Name = "Fleet";

    /// <summary>Upper bounds, in seconds, for durations from a millisecond to ten seconds.</summary>
    public static readonly IReadOnlyList<double> DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>
    /// The host's meter from <paramref name="factory"/> (one per host, shared by every layer, disposed with the host),
    /// or, for a component built by hand without one, a meter of its own that <see cref="IsOwned"/> says to dispose.
    /// </summary>
    public static Meter Create(IMeterFactory? factory) => factory?.Create(Name) ?? new Meter(Name);

    /// <summary>True when <paramref name="meter"/> came from no factory, so its creator disposes it.</summary>
    public static bool IsOwned(Meter meter) => meter.Scope is null;
}
