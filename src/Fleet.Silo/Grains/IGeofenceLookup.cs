namespace Fleet.Silo.Grains;

/// <summary>
/// Answers whether a position lies in one of a vehicle's designated lots (指定停放). Called inside grain turns
/// on the shard loops, concurrently from several shards: implementations must be thread-safe, in memory and fast.
/// </summary>
public interface IGeofenceLookup
{
    /// <summary>
    /// True or false when the vehicle's lots are known; null when they are not (yet), or it has none.
    /// <paramref name="wasInside"/> is the previous answer: a vehicle that was inside stays inside until it is clearly
    /// out (exit hysteresis), so GPS jitter around a car parked on the boundary does not flap the state.
    /// </summary>
    bool? IsInDesignatedLot(long vehicleId, double lat, double lon, bool? wasInside);
}

/// <summary>Knows no lots: every answer is null. For hosts and tests without a registry.</summary>
public sealed class NullGeofenceLookup : IGeofenceLookup
{
    public static readonly NullGeofenceLookup Instance = new();

    public bool? IsInDesignatedLot(long vehicleId, double lat, double lon, bool? wasInside) => null;
}
