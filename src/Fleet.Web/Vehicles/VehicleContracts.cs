namespace Fleet.Web.Vehicles;

public sealed record NamedRef(int Id, string Name);

/// <summary>The live part of a vehicle; <see cref="Ts"/> is epoch ms UTC, as in the terminal protocol.</summary>
public sealed record LiveView(long Ts, double Lat, double Lon, float? Spd, short? Hdg, bool? Acc, double? Odo, LiveState State, bool Online)
{
    public static LiveView? From(LiveVehicle? live) => live is null
        ? null
        : new LiveView(live.Ts, live.Lat, live.Lon, live.Spd, live.Hdg, live.Acc, live.Odo, live.EffectiveState, live.Online);
}

/// <summary>A row of <c>GET /api/vehicles</c>; <see cref="Live"/> is null when no live state is known.</summary>
public sealed record VehicleItem(
    long Id,
    string Plate,
    string Vin,
    string Category,
    NamedRef Department,
    NamedRef? Zone,
    string Energy,
    short Seats,
    bool Marked,
    string Status,
    string? TerminalId,
    LiveView? Live);

/// <summary>A driver assigned to the vehicle by an order in progress (orders come later, so always null today).</summary>
public sealed record AssignedDriver(long Id, string Name, string? Phone);

/// <summary><c>GET /api/vehicles/{id}</c>: the list fields plus the rest of the registry record.</summary>
public sealed record VehicleDetail(
    long Id,
    string Plate,
    string Vin,
    string Category,
    string Ownership,
    NamedRef Department,
    NamedRef? Zone,
    string? Model,
    string Energy,
    short Seats,
    bool Marked,
    bool OnQuota,
    string Status,
    string? TerminalId,
    bool? TerminalEnabled,
    LiveView? Live,
    AssignedDriver? Driver);

/// <summary>
/// <c>GET /api/vehicles/{id}/track</c> as a GeoJSON FeatureCollection (RFC 7946, lon/lat order). It holds one
/// feature: a LineString of the positions in time order (a Point when there is exactly one, none when there are
/// none). The per-point values are parallel arrays in its properties: <c>ts[i]</c> (epoch ms UTC), <c>spd[i]</c>,
/// <c>hdg[i]</c>, <c>acc[i]</c>, <c>odo[i]</c> belong to <c>coordinates[i]</c>. The other members are RFC 7946
/// foreign members describing the query: the window [from, to), the point count, and whether the track was cut
/// at <see cref="MaxPoints"/> (then it holds the first MaxPoints positions; ask again from the last ts).
/// </summary>
public sealed record TrackGeoJson(
    string Type,
    IReadOnlyList<TrackFeature> Features,
    long VehicleId,
    string Plate,
    DateTimeOffset From,
    DateTimeOffset To,
    int Count,
    bool Truncated,
    int MaxPoints);

public sealed record TrackFeature(string Type, TrackGeometry Geometry, TrackProperties Properties);

/// <summary><see cref="Coordinates"/> is [lon, lat] for a Point and [[lon, lat], …] for a LineString.</summary>
public sealed record TrackGeometry(string Type, object Coordinates);

public sealed record TrackProperties(long VehicleId, long[] Ts, float?[] Spd, short?[] Hdg, bool?[] Acc, double?[] Odo);
