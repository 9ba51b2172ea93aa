using System.Collections.Immutable;
using Fleet.Core.Roads;

namespace Fleet.Core.Geofences;

/// <summary>What a fence means to the rules (DESIGN.md, Rules).</summary>
public enum GeofenceKind
{
    /// <summary>指定停放: a department's designated lot; PARKED_OUTSIDE_DESIGNATED and NOT_SEALED test against it.</summary>
    DesignatedLot,

    /// <summary>禁入区域: entering it is a FORBIDDEN_ZONE violation.</summary>
    ForbiddenZone,

    /// <summary>相对集中办公区: the compound whose departments pool vehicles and drivers.</summary>
    OfficeZone,

    /// <summary>A permitted service area; leaving it is OUT_OF_AREA.</summary>
    ServiceArea,
}

/// <summary>One polygon: an outer ring and any holes, each ring a closed or open list of WGS-84 points.</summary>
public sealed record GeoPolygon(ImmutableArray<GeoPoint> Shell, ImmutableArray<ImmutableArray<GeoPoint>> Holes)
{
    public GeoPolygon(ImmutableArray<GeoPoint> shell)
        : this(shell, [])
    {
    }
}

/// <summary>
/// A fence as the registry stores it: one or more polygons (a multipolygon: a main lot and an overflow lot are one
/// fence). <paramref name="OwnerId"/> is the department of a lot, the zone's own id otherwise.
/// </summary>
public sealed record Geofence(long Id, GeofenceKind Kind, long OwnerId, ImmutableArray<GeoPolygon> Polygons);
