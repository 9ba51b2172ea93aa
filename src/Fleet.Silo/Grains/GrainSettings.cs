namespace Fleet.Silo.Grains;

/// <summary>The thresholds grain turns use, in the units they compare against (ms, km/h).</summary>
public sealed record GrainSettings(double MovingSpeedKmh, long ParkedAfterMs, long OfflineTimeoutMs, IGeofenceLookup Geofences)
{
    public static GrainSettings Default { get; } = new(5, 5 * 60_000, 5 * 60_000, NullGeofenceLookup.Instance);
}
