using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fleet.Core.Roads;
using Npgsql;

namespace Fleet.Simulator.Fleet;

/// <summary>
/// Builds the vehicle profiles: terminals from the demo credentials file, homes from the registry database
/// (read-only) when a connection string is given, otherwise from the plate prefix with a generated lot.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Generated lots must be reproducible.")]
public static class FleetLoader
{
    /// <summary>Departments per region when lots are generated: vehicles share lots as they share departments.</summary>
    private const int GeneratedLotsPerRegion = 8;

    public static async Task<IReadOnlyList<TerminalCredential>> ReadCredentialsAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        var document = await JsonSerializer.DeserializeAsync(stream, CredentialsJsonContext.Default.CredentialsDocument, ct)
            ?? throw new InvalidDataException($"{path} is empty.");
        return document.Terminals
            .Where(t => !string.IsNullOrEmpty(t.TerminalId))
            .Select(t => new TerminalCredential(t.TerminalId, t.Password ?? "", t.VehicleId, t.Plate ?? ""))
            .ToList();
    }

    /// <summary>
    /// Profiles for <paramref name="terminals"/>, homed by the database when <paramref name="connectionString"/> is set
    /// (vehicles it does not know fall back to their plate); also says how many the database homed.
    /// </summary>
    public static async Task<(IReadOnlyList<VehicleProfile> Profiles, int FromRegistry)> BuildProfilesAsync(
        IReadOnlyList<TerminalCredential> terminals,
        string? connectionString,
        int seed,
        CancellationToken ct)
    {
        IReadOnlyDictionary<long, RegistryHome> homes = connectionString is null
            ? new Dictionary<long, RegistryHome>()
            : await ReadHomesAsync(connectionString, terminals.Select(t => t.VehicleId).ToArray(), ct);
        var profiles = terminals.Select(t => homes.TryGetValue(t.VehicleId, out var home)
                ? new VehicleProfile(t.TerminalId, t.Password, t.VehicleId, t.Plate, home.Region, home.Lot, home.Energy, home.Category)
                : FromPlate(t, seed))
            .ToList();
        return (profiles, terminals.Count(t => homes.ContainsKey(t.VehicleId)));
    }

    /// <summary>Fallback homing: the plate gives the region, the vehicle id one of a few generated lots in it.</summary>
    public static VehicleProfile FromPlate(TerminalCredential terminal, int seed)
    {
        var region = RegionCatalog.ForPlate(terminal.Plate);
        var lot = (int)((ulong)terminal.VehicleId % GeneratedLotsPerRegion);
        var random = new Random(StableHash.Combine(seed, $"{region.Code}/lot/{lot}"));

        // 0.8–6 km from the seat, like the seeder's departments.
        var distance = 800 + (random.NextDouble() * 5200);
        var angle = random.NextDouble() * 2 * Math.PI;
        var position = new LocalProjection(region.Centre).ToGeo(new LocalPoint(distance * Math.Sin(angle), distance * Math.Cos(angle)));
        return new VehicleProfile(
            terminal.TerminalId,
            terminal.Password,
            terminal.VehicleId,
            terminal.Plate,
            region,
            position,
            Plates.EnergyOf(terminal.Plate),
            Plates.CategoryOf(terminal.Plate));
    }

    private static async Task<Dictionary<long, RegistryHome>> ReadHomesAsync(string connectionString, long[] vehicleIds, CancellationToken ct)
    {
        // Read-only by construction: the simulator must never write to the registry.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c default_transaction_read_only=on" };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(ct);

        // Vehicles drive on their 盟市's network, the one the map draws: a department of the province (or of a 旗县)
        // is placed on the network of its own league/city, else of the league/city nearest to its lot.
        await using var command = new NpgsqlCommand(
            """
            SELECT v.id, v.energy, v.category, coalesce(c.code, r.code), coalesce(c.name, r.name),
                   ST_Y(coalesce(c.centre, r.centre)), ST_X(coalesce(c.centre, r.centre)),
                   ST_Y(h.lot), ST_X(h.lot)
            FROM vehicles v
            JOIN departments d ON d.id = v.department_id
            JOIN regions r ON r.id = d.region_id
            CROSS JOIN LATERAL (SELECT coalesce(ST_Centroid(d.parking_lot), d.location) AS lot) h
            LEFT JOIN LATERAL (
                SELECT l.code, l.name, l.centre
                FROM regions l
                WHERE l.level = 'league_city' AND l.centre IS NOT NULL
                ORDER BY l.id IN (r.id, r.parent_id) DESC NULLS LAST, l.centre <-> coalesce(h.lot, r.centre)
                LIMIT 1
            ) c ON true
            WHERE v.id = ANY(@ids)
            """,
            connection);
        command.Parameters.AddWithValue("ids", vehicleIds);
        var homes = new Dictionary<long, RegistryHome>();
        var regions = new Dictionary<string, RegionInfo>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (reader.IsDBNull(5) || reader.IsDBNull(7))
            {
                continue; // No centre or no lot: the plate fallback will home it.
            }

            var code = reader.GetString(3);
            if (!regions.TryGetValue(code, out var region))
            {
                region = new RegionInfo(code, reader.GetString(4), new GeoPoint(reader.GetDouble(5), reader.GetDouble(6)), RegionCatalog.AltitudeOf(code));
                regions.Add(code, region);
            }

            var energy = reader.GetString(1) is "bev" or "phev" or "fcev" ? EnergyKind.Electric : EnergyKind.Fuel;
            homes[reader.GetInt64(0)] = new RegistryHome(region, new GeoPoint(reader.GetDouble(7), reader.GetDouble(8)), energy, reader.GetString(2));
        }

        return homes;
    }

    private sealed record RegistryHome(RegionInfo Region, GeoPoint Lot, EnergyKind Energy, string Category);
}

internal sealed record CredentialsDocument(IReadOnlyList<CredentialsTerminal> Terminals);

internal sealed record CredentialsTerminal(string TerminalId, string? Password, long VehicleId, string? Plate);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CredentialsDocument))]
internal sealed partial class CredentialsJsonContext : JsonSerializerContext;
