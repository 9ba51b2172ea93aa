namespace Fleet.Core.Roads;

/// <summary>A WGS-84 position in degrees.</summary>
public readonly record struct GeoPoint(double Lat, double Lon);

/// <summary>A position in metres east (X) and north (Y) of a region's centre.</summary>
public readonly record struct LocalPoint(double X, double Y)
{
    public double DistanceTo(LocalPoint other) => Math.Sqrt(((X - other.X) * (X - other.X)) + ((Y - other.Y) * (Y - other.Y)));

    public double Length => Math.Sqrt((X * X) + (Y * Y));

    /// <summary>Compass bearing from here to <paramref name="other"/>, 0–359.999 degrees clockwise from north.</summary>
    public double BearingTo(LocalPoint other)
    {
        var degrees = Math.Atan2(other.X - X, other.Y - Y) * 180 / Math.PI;
        return degrees < 0 ? degrees + 360 : degrees;
    }
}

/// <summary>
/// Equirectangular projection around a centre. Within the ~15 km of a city network its error is a few metres,
/// far below GPS noise, and it keeps the per-report work to two multiplications.
/// </summary>
public sealed record LocalProjection
{
    public const double MetresPerDegree = 111_320;

    private readonly double _metresPerDegreeLon;

    public LocalProjection(GeoPoint centre)
    {
        Centre = centre;
        _metresPerDegreeLon = MetresPerDegree * Math.Cos(centre.Lat * Math.PI / 180);
    }

    public GeoPoint Centre { get; }

    public GeoPoint ToGeo(LocalPoint point) => new(Centre.Lat + (point.Y / MetresPerDegree), Centre.Lon + (point.X / _metresPerDegreeLon));

    public LocalPoint ToLocal(GeoPoint point) => new((point.Lon - Centre.Lon) * _metresPerDegreeLon, (point.Lat - Centre.Lat) * MetresPerDegree);
}
