namespace Fleet.Silo.Grains;

internal static class Geo
{
    private const double EarthRadiusKm = 6371.0088;

    /// <summary>Great-circle distance in km (haversine); accurate to well under 1% at the distances between fixes.</summary>
    public static double HaversineKm(double lat1, double lon1, double lat2, double lon2)
    {
        const double ToRad = Math.PI / 180;
        var dLat = (lat2 - lat1) * ToRad;
        var dLon = (lon2 - lon1) * ToRad;
        var sinLat = Math.Sin(dLat / 2);
        var sinLon = Math.Sin(dLon / 2);
        var a = (sinLat * sinLat) + (Math.Cos(lat1 * ToRad) * Math.Cos(lat2 * ToRad) * sinLon * sinLon);
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(a)));
    }
}
