namespace Fleet.Silo.Grains;

/// <summary>
/// Answers whether a position lies in one of a vehicle's designated lots (指定停放). Called inside grain turns
/// on the shard loops, concurrently from several shards: implementations must be thread-safe, in memory and fast.
/// </summary>
public interface IGeofenceLookup
{
    /// <summary>True or false when the vehicle's lots are known; null when they are not (yet).</summary>
    bool? IsInDesignatedLot(long vehicleId, double lat, double lon);
}

/// <summary>Knows no lots: every answer is null. The default until geofences are loaded from the registry.</summary>
public sealed class NullGeofenceLookup : IGeofenceLookup
{
    public static readonly NullGeofenceLookup Instance = new();

    public bool? IsInDesignatedLot(long vehicleId, double lat, double lon) => null;
}
