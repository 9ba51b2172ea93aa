using System.Buffers;
using System.Text.Json;
using Fleet.Core.Roads;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Map;

/// <summary>
/// The simulator's road networks as one GeoJSON FeatureCollection of LineStrings, one network per 盟市 in the registry,
/// generated with <see cref="MapOptions.RoadSeed"/>. The networks are a pure function of seed, code and centre, so the
/// document is built on the first request and kept; concurrent first requests may each build it, identically.
/// </summary>
public sealed class RoadLayer(NpgsqlDataSource db, IOptions<MapOptions> options)
{
    /// <summary>Above this, polylines are merged into whole roads; below it, each edge is its own feature.</summary>
    public const int MergeAboveBytes = 2 * 1024 * 1024;

    private byte[]? _geoJson;

    public async ValueTask<byte[]> GetAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _geoJson) is { } cached)
        {
            return cached;
        }

        var regions = await ReadRegionsAsync(ct);
        var built = Build(regions, options.Value.RoadSeed);
        return Interlocked.CompareExchange(ref _geoJson, built, null) ?? built;
    }

    /// <summary>The document for <paramref name="regions"/> (code, centre); merged only when one feature per edge is too big.</summary>
    public static byte[] Build(IReadOnlyList<(string Code, GeoPoint Centre)> regions, int seed)
    {
        ArgumentNullException.ThrowIfNull(regions);
        var networks = regions.Select(r => RoadNetworkGenerator.Generate(r.Code, r.Centre, seed)).ToList();
        var perEdge = Write(networks, RoadPolylines.PerEdge);
        return perEdge.Length <= MergeAboveBytes ? perEdge : Write(networks, n => RoadPolylines.Merged(n));
    }

    public static string KindOf(RoadClass roadClass) => roadClass switch
    {
        RoadClass.Ring => "ring",
        RoadClass.Arterial => "arterial",
        _ => "street",
    };

    private static byte[] Write(List<RoadNetwork> networks, Func<RoadNetwork, IReadOnlyList<RoadPolyline>> polylines)
    {
        var buffer = new ArrayBufferWriter<byte>(256 * 1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", "FeatureCollection");
            json.WriteStartArray("features");
            foreach (var network in networks)
            {
                foreach (var line in polylines(network))
                {
                    json.WriteStartObject();
                    json.WriteString("type", "Feature");
                    json.WriteStartObject("geometry");
                    json.WriteString("type", "LineString");
                    json.WriteStartArray("coordinates");
                    foreach (var point in line.Points)
                    {
                        // GeoJSON order is [lon, lat]; six decimals are ~0.1 m.
                        var geo = network.Projection.ToGeo(point);
                        json.WriteStartArray();
                        json.WriteNumberValue(Math.Round(geo.Lon, 6));
                        json.WriteNumberValue(Math.Round(geo.Lat, 6));
                        json.WriteEndArray();
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                    json.WriteStartObject("properties");
                    json.WriteString("regionCode", network.Key);
                    json.WriteString("kind", KindOf(line.Class));
                    json.WriteEndObject();
                    json.WriteEndObject();
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task<List<(string Code, GeoPoint Centre)>> ReadRegionsAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "SELECT code, ST_Y(centre), ST_X(centre) FROM regions WHERE level = 'league_city' AND centre IS NOT NULL ORDER BY code");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var regions = new List<(string, GeoPoint)>();
        while (await reader.ReadAsync(ct))
        {
            regions.Add((reader.GetString(0), new GeoPoint(reader.GetDouble(1), reader.GetDouble(2))));
        }

        return regions;
    }
}
