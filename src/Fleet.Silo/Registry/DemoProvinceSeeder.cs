using System.Diagnostics;
using Fleet.Core.Security;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Silo.Registry;

/// <summary>
/// Seeds the deterministic demo province (内蒙古自治区): regions, office zones, departments with their lots, vehicles,
/// quotas, drivers, one terminal per vehicle and a demo user per role. Runs once: a registry that already has vehicles
/// is left alone. Everything is written in one transaction, so an interrupted seed leaves nothing behind and the next
/// start seeds again.
/// </summary>
public static class DemoProvinceSeeder
{
    // Arbitrary but fixed: concurrent seeders (two hosts starting together) serialise on it. "Fleetsed" in ASCII.
    private const long LockKey = 0x466C_6565_7473_6564;
    private const int ProgressStep = 10_000;

    public static async Task<DemoSeedResult> SeedAsync(
        NpgsqlDataSource db,
        DemoSeedOptions options,
        IProgress<SeedProgress>? progress,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Vehicles is < 1 or > DemoSeedOptions.MaxVehicles)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Vehicles, $"Vehicles must be between 1 and {DemoSeedOptions.MaxVehicles}.");
        }

        var stopwatch = Stopwatch.StartNew();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var lockCommand = Command(connection, transaction, "SELECT pg_advisory_xact_lock($1)", LockKey))
        {
            // No timeout: the other seeder may be copying 100k vehicles; cancellation still works.
            lockCommand.CommandTimeout = 0;
            await lockCommand.ExecuteNonQueryAsync(ct);
        }

        await using (var seeded = Command(connection, transaction, "SELECT EXISTS (SELECT 1 FROM vehicles)"))
        {
            if ((bool)(await seeded.ExecuteScalarAsync(ct))!)
            {
                return new DemoSeedResult(true, await CountAsync(connection, transaction, ct), [], [], stopwatch.Elapsed);
            }
        }

        progress?.Report(new SeedProgress(SeedPhases.Generate, 0, options.Vehicles));
        var registry = DemoRegistryGenerator.Generate(options);
        progress?.Report(new SeedProgress(SeedPhases.Generate, options.Vehicles, options.Vehicles));

        // Hashing runs on the other core while the registry is copied; it is cancelled if the seed fails.
        using var hashing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var terminalHashes = Task.Run(() => HashTerminalPasswords(registry.Terminals, progress, hashing.Token), hashing.Token);
        var userHashes = Task.Run(() => HashUserPasswords(registry.Users), hashing.Token);
        long firstVehicleId;
        try
        {
            var regionIds = await InsertRegionsAsync(connection, transaction, registry.Regions, progress, ct);
            var zoneIds = await InsertZonesAsync(connection, transaction, registry.Zones, regionIds, ct);
            var departmentIds = await InsertDepartmentsAsync(connection, transaction, registry.Departments, regionIds, zoneIds, progress, ct);

            // Blocks other writers until commit, so the id blocks reserved below cannot be taken by anyone else.
            await using (var lockTables = Command(connection, transaction, "LOCK TABLE vehicles, drivers, terminals IN SHARE ROW EXCLUSIVE MODE"))
            {
                await lockTables.ExecuteNonQueryAsync(ct);
            }

            firstVehicleId = await ReserveIdsAsync(connection, transaction, "vehicles", registry.Vehicles.Count, ct);
            await CopyVehiclesAsync(connection, registry.Vehicles, firstVehicleId, departmentIds, zoneIds, progress, ct);

            var firstDriverId = await ReserveIdsAsync(connection, transaction, "drivers", registry.Drivers.Count, ct);
            await CopyDriversAsync(connection, registry.Drivers, firstDriverId, departmentIds, zoneIds, progress, ct);

            await CopyTerminalsAsync(connection, registry.Terminals, await terminalHashes, firstVehicleId, progress, ct);
            await InsertQuotasAsync(connection, transaction, registry.Quotas, departmentIds, progress, ct);
            await InsertUsersAsync(connection, transaction, registry.Users, await userHashes, departmentIds, regionIds, progress, ct);

            progress?.Report(new SeedProgress(SeedPhases.Commit, 0, 1));
            await transaction.CommitAsync(ct);
            progress?.Report(new SeedProgress(SeedPhases.Commit, 1, 1));
        }
        finally
        {
            await hashing.CancelAsync();
        }

        var counts = new DemoSeedCounts(
            registry.Regions.Count,
            registry.Zones.Count,
            registry.Departments.Count,
            registry.Vehicles.Count,
            registry.Drivers.Count,
            registry.Terminals.Count,
            registry.Users.Count);
        var users = registry.Users
            .Select(u => new DemoUserCredential(u.Username, u.Password, u.Role, u.Department is { } d ? registry.Departments[d].Name : null))
            .ToList();
        var terminals = registry.Terminals
            .Select(t => new DemoTerminalCredential(t.Id, t.Password, firstVehicleId + t.Vehicle, registry.Vehicles[t.Vehicle].Plate))
            .ToList();
        return new DemoSeedResult(false, counts, users, terminals, stopwatch.Elapsed);
    }

    private static string[] HashTerminalPasswords(IReadOnlyList<DemoTerminal> terminals, IProgress<SeedProgress>? progress, CancellationToken ct)
    {
        var hashes = new string[terminals.Count];
        var done = 0;
        progress?.Report(new SeedProgress(SeedPhases.TerminalCredentials, 0, terminals.Count));
        Parallel.For(0, terminals.Count, new ParallelOptions { CancellationToken = ct }, i =>
        {
            hashes[i] = MosquittoPasswordHash.Create(terminals[i].Password);
            var completed = Interlocked.Increment(ref done);
            if (completed % ProgressStep == 0 && completed != terminals.Count)
            {
                progress?.Report(new SeedProgress(SeedPhases.TerminalCredentials, completed, terminals.Count));
            }
        });
        progress?.Report(new SeedProgress(SeedPhases.TerminalCredentials, terminals.Count, terminals.Count));
        return hashes;
    }

    // Identity's hasher is deliberately slow (PBKDF2, 100,000 iterations): only the handful of demo users use it.
    private static string[] HashUserPasswords(IReadOnlyList<DemoUser> users)
    {
        var hasher = new PasswordHasher<DemoUser>();
        var hashes = new string[users.Count];
        Parallel.For(0, users.Count, i => hashes[i] = hasher.HashPassword(users[i], users[i].Password));
        return hashes;
    }

    private static async Task<Dictionary<string, int>> InsertRegionsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyList<RegionSpec> regions,
        IProgress<SeedProgress>? progress,
        CancellationToken ct)
    {
        progress?.Report(new SeedProgress(SeedPhases.Regions, 0, regions.Count));
        // Regions are shared facts: ones already registered (by code) are kept as they are.
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var region in regions)
        {
            var parent = region.Level == "province" ? null : DemoProvinceData.ProvinceCode;
            batch.BatchCommands.Add(BatchCommand(
                """
                INSERT INTO regions (code, name, parent_id, level, centre)
                SELECT $1, $2, (SELECT id FROM regions WHERE code = $3), $4, ST_SetSRID(ST_MakePoint($5, $6), 4326)
                ON CONFLICT (code) DO NOTHING
                """,
                region.Code,
                region.Name,
                Text(parent),
                region.Level,
                region.Lon,
                region.Lat));
        }

        await batch.ExecuteNonQueryAsync(ct);

        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        // Wrapped in a parameter: a bare string[] would be taken as the params array itself.
        var codes = new NpgsqlParameter { Value = regions.Select(r => r.Code).ToArray() };
        await using var select = Command(connection, transaction, "SELECT code, id FROM regions WHERE code = ANY($1)", codes);
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            ids[reader.GetString(0)] = reader.GetInt32(1);
        }

        progress?.Report(new SeedProgress(SeedPhases.Regions, regions.Count, regions.Count));
        return ids;
    }

    private static async Task<int[]> InsertZonesAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyList<DemoZone> zones,
        Dictionary<string, int> regionIds,
        CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var zone in zones)
        {
            batch.BatchCommands.Add(BatchCommand(
                "INSERT INTO office_zones (region_id, name, boundary) VALUES ($1, $2, ST_GeomFromText($3, 4326)) RETURNING id",
                regionIds[zone.RegionCode],
                zone.Name,
                zone.BoundaryWkt));
        }

        return await ReadReturnedIdsAsync(batch, zones.Count, ct);
    }

    private static async Task<int[]> InsertDepartmentsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyList<DemoDepartment> departments,
        Dictionary<string, int> regionIds,
        int[] zoneIds,
        IProgress<SeedProgress>? progress,
        CancellationToken ct)
    {
        progress?.Report(new SeedProgress(SeedPhases.Departments, 0, departments.Count));
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var department in departments)
        {
            batch.BatchCommands.Add(BatchCommand(
                """
                INSERT INTO departments (region_id, office_zone_id, name, address, location, parking_lot)
                VALUES ($1, $2, $3, $4, ST_SetSRID(ST_MakePoint($5, $6), 4326), ST_GeomFromText($7, 4326))
                RETURNING id
                """,
                regionIds[department.RegionCode],
                Integer(department.Zone is { } z ? zoneIds[z] : null),
                department.Name,
                department.Address,
                department.Lon,
                department.Lat,
                department.ParkingLotWkt));
        }

        var ids = await ReadReturnedIdsAsync(batch, departments.Count, ct);
        progress?.Report(new SeedProgress(SeedPhases.Departments, departments.Count, departments.Count));
        return ids;
    }

    private static async Task<int[]> ReadReturnedIdsAsync(NpgsqlBatch batch, int count, CancellationToken ct)
    {
        var ids = new int[count];
        await using var reader = await batch.ExecuteReaderAsync(ct);
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                await reader.NextResultAsync(ct);
            }

            await reader.ReadAsync(ct);
            ids[i] = reader.GetInt32(0);
        }

        return ids;
    }

    /// <summary>Takes <paramref name="count"/> consecutive ids from the table's identity sequence; returns the first.</summary>
    private static async Task<long> ReserveIdsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, int count, CancellationToken ct)
    {
        await using var command = Command(
            connection,
            transaction,
            """
            WITH first AS (SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id)
            SELECT id, setval(pg_get_serial_sequence($1, 'id'), id + $2 - 1) FROM first
            """,
            table,
            (long)Math.Max(count, 1));
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.GetInt64(0);
    }

    private static Task CopyVehiclesAsync(
        NpgsqlConnection connection,
        IReadOnlyList<DemoVehicle> vehicles,
        long firstId,
        int[] departmentIds,
        int[] zoneIds,
        IProgress<SeedProgress>? progress,
        CancellationToken ct) =>
        CopyRowsAsync(
            connection,
            "COPY vehicles (id, plate, vin, category, ownership, department_id, office_zone_id, model, energy, seats, marked, on_quota, status) FROM STDIN (FORMAT BINARY)",
            SeedPhases.Vehicles,
            vehicles,
            async (importer, v, i) =>
            {
                await importer.WriteAsync(firstId + i, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(v.Plate, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(v.Vin, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(v.Category, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(v.Ownership, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(departmentIds[v.Department], NpgsqlDbType.Integer, ct);
                await WriteZoneAsync(importer, v.Zone, zoneIds, ct);
                await importer.WriteAsync(v.Model, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(v.Energy, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(v.Seats, NpgsqlDbType.Smallint, ct);
                await importer.WriteAsync(v.Marked, NpgsqlDbType.Boolean, ct);
                await importer.WriteAsync(v.OnQuota, NpgsqlDbType.Boolean, ct);
                await importer.WriteAsync(v.Status, NpgsqlDbType.Text, ct);
            },
            progress,
            ct);

    private static Task CopyDriversAsync(
        NpgsqlConnection connection,
        IReadOnlyList<DemoDriver> drivers,
        long firstId,
        int[] departmentIds,
        int[] zoneIds,
        IProgress<SeedProgress>? progress,
        CancellationToken ct) =>
        CopyRowsAsync(
            connection,
            "COPY drivers (id, name, department_id, office_zone_id, licence_class, phone) FROM STDIN (FORMAT BINARY)",
            SeedPhases.Drivers,
            drivers,
            async (importer, d, i) =>
            {
                await importer.WriteAsync(firstId + i, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(d.Name, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(departmentIds[d.Department], NpgsqlDbType.Integer, ct);
                await WriteZoneAsync(importer, d.Zone, zoneIds, ct);
                await importer.WriteAsync(d.LicenceClass, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(d.Phone, NpgsqlDbType.Text, ct);
            },
            progress,
            ct);

    private static Task CopyTerminalsAsync(
        NpgsqlConnection connection,
        IReadOnlyList<DemoTerminal> terminals,
        string[] hashes,
        long firstVehicleId,
        IProgress<SeedProgress>? progress,
        CancellationToken ct) =>
        CopyRowsAsync(
            connection,
            "COPY terminals (id, vehicle_id, credential_hash, enabled) FROM STDIN (FORMAT BINARY)",
            SeedPhases.Terminals,
            terminals,
            async (importer, t, i) =>
            {
                await importer.WriteAsync(t.Id, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(firstVehicleId + t.Vehicle, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(hashes[i], NpgsqlDbType.Text, ct);
                await importer.WriteAsync(true, NpgsqlDbType.Boolean, ct);
            },
            progress,
            ct);

    /// <summary>One binary COPY of <paramref name="rows"/>, reporting progress under <paramref name="phase"/>.</summary>
    private static async Task CopyRowsAsync<T>(
        NpgsqlConnection connection,
        string copySql,
        string phase,
        IReadOnlyList<T> rows,
        Func<NpgsqlBinaryImporter, T, int, Task> writeRow,
        IProgress<SeedProgress>? progress,
        CancellationToken ct)
    {
        progress?.Report(new SeedProgress(phase, 0, rows.Count));
        await using var importer = await connection.BeginBinaryImportAsync(copySql, ct);
        for (var i = 0; i < rows.Count; i++)
        {
            await importer.StartRowAsync(ct);
            await writeRow(importer, rows[i], i);
            ReportEvery(progress, phase, i + 1, rows.Count);
        }

        await importer.CompleteAsync(ct);
        progress?.Report(new SeedProgress(phase, rows.Count, rows.Count));
    }

    private static async Task InsertQuotasAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyList<DemoQuota> quotas,
        int[] departmentIds,
        IProgress<SeedProgress>? progress,
        CancellationToken ct)
    {
        progress?.Report(new SeedProgress(SeedPhases.Quotas, 0, quotas.Count));
        await using var command = Command(
            connection,
            transaction,
            "INSERT INTO vehicle_quotas (department_id, category, quota) SELECT * FROM unnest($1::integer[], $2::text[], $3::integer[])",
            quotas.Select(q => departmentIds[q.Department]).ToArray(),
            quotas.Select(q => q.Category).ToArray(),
            quotas.Select(q => q.Quota).ToArray());
        await command.ExecuteNonQueryAsync(ct);
        progress?.Report(new SeedProgress(SeedPhases.Quotas, quotas.Count, quotas.Count));
    }

    private static async Task InsertUsersAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyList<DemoUser> users,
        string[] hashes,
        int[] departmentIds,
        Dictionary<string, int> regionIds,
        IProgress<SeedProgress>? progress,
        CancellationToken ct)
    {
        progress?.Report(new SeedProgress(SeedPhases.Users, 0, users.Count));
        await using var batch = new NpgsqlBatch(connection, transaction);
        for (var i = 0; i < users.Count; i++)
        {
            var user = users[i];
            batch.BatchCommands.Add(BatchCommand(
                "INSERT INTO users (username, display_name, password_hash, role, department_id, region_id) VALUES ($1, $2, $3, $4, $5, $6)",
                user.Username,
                user.DisplayName,
                hashes[i],
                user.Role,
                Integer(user.Department is { } d ? departmentIds[d] : null),
                Integer(user.RegionCode is { } r ? regionIds[r] : null)));
        }

        await batch.ExecuteNonQueryAsync(ct);
        progress?.Report(new SeedProgress(SeedPhases.Users, users.Count, users.Count));
    }

    private static async Task<DemoSeedCounts> CountAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using var command = Command(
            connection,
            transaction,
            """
            SELECT (SELECT count(*) FROM regions)::integer, (SELECT count(*) FROM office_zones)::integer,
                   (SELECT count(*) FROM departments)::integer, (SELECT count(*) FROM vehicles)::integer,
                   (SELECT count(*) FROM drivers)::integer, (SELECT count(*) FROM terminals)::integer,
                   (SELECT count(*) FROM users)::integer
            """);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new DemoSeedCounts(
            reader.GetInt32(0),
            reader.GetInt32(1),
            reader.GetInt32(2),
            reader.GetInt32(3),
            reader.GetInt32(4),
            reader.GetInt32(5),
            reader.GetInt32(6));
    }

    private static Task WriteZoneAsync(NpgsqlBinaryImporter importer, int? zone, int[] zoneIds, CancellationToken ct) =>
        zone is { } z ? importer.WriteAsync(zoneIds[z], NpgsqlDbType.Integer, ct) : importer.WriteNullAsync(ct);

    private static void ReportEvery(IProgress<SeedProgress>? progress, string phase, int completed, int total)
    {
        if (progress is not null && completed % ProgressStep == 0 && completed != total)
        {
            progress.Report(new SeedProgress(phase, completed, total));
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter as NpgsqlParameter ?? new NpgsqlParameter { Value = parameter });
        }

        return command;
    }

    private static NpgsqlBatchCommand BatchCommand(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter as NpgsqlParameter ?? new NpgsqlParameter { Value = parameter });
        }

        return command;
    }

    private static NpgsqlParameter Integer(int? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value is { } v ? v : DBNull.Value };

    private static NpgsqlParameter Text(string? value) =>
        new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };
}
