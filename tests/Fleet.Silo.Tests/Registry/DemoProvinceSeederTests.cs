using System.Collections.Concurrent;
using System.Diagnostics;
using Fleet.Core.Security;
using Fleet.Silo.Registry;
using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using Microsoft.AspNetCore.Identity;
using Npgsql;

namespace Fleet.Silo.Tests.Registry;

public sealed class DemoProvinceSeederTests(PostgresFixture postgres)
{
    private const int Timeout = 120_000;

    // GB/T 2260 codes and 号牌 prefixes of 内蒙古自治区 and its 盟市: facts, written out independently of the seeder.
    private static readonly Dictionary<string, (string Name, string Prefix)> RealRegions = new()
    {
        ["150000"] = ("内蒙古自治区", "蒙A"),
        ["150100"] = ("呼和浩特市", "蒙A"),
        ["150200"] = ("包头市", "蒙B"),
        ["150300"] = ("乌海市", "蒙C"),
        ["150400"] = ("赤峰市", "蒙D"),
        ["150500"] = ("通辽市", "蒙G"),
        ["150600"] = ("鄂尔多斯市", "蒙K"),
        ["150700"] = ("呼伦贝尔市", "蒙E"),
        ["150800"] = ("巴彦淖尔市", "蒙L"),
        ["150900"] = ("乌兰察布市", "蒙J"),
        ["152200"] = ("兴安盟", "蒙F"),
        ["152500"] = ("锡林郭勒盟", "蒙H"),
        ["152900"] = ("阿拉善盟", "蒙M"),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(NpgsqlDataSource Db, DemoSeedResult Result)> SeedAsync(int vehicles = 2000, int seed = DemoSeedOptions.DefaultSeed, IProgress<SeedProgress>? progress = null)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var result = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(vehicles, seed), progress, Ct);
        return (db, result);
    }

    [Fact(Timeout = Timeout)]
    public async Task Seeding_2000_vehicles_gives_2000_vehicles_each_with_its_own_enabled_terminal()
    {
        var (db, result) = await SeedAsync();

        Assert.False(result.AlreadySeeded);
        Assert.Equal(2000, result.Counts.Vehicles);
        Assert.Equal(2000, result.Counts.Terminals);
        Assert.Equal(2000L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles"));
        Assert.Equal(2000L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM terminals t JOIN vehicles v ON v.id = t.vehicle_id WHERE t.enabled"));
        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM terminals WHERE id !~ '^T[0-9]{12}$'"));

        // The credentials handed back describe exactly what was stored.
        var stored = await TestDb.QueryStringsAsync(db, "SELECT t.id || '|' || v.id || '|' || v.plate FROM terminals t JOIN vehicles v ON v.id = t.vehicle_id ORDER BY t.id");
        Assert.Equal(stored, result.Terminals.Select(t => $"{t.TerminalId}|{t.VehicleId}|{t.Plate}").Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = Timeout)]
    public async Task The_province_and_its_twelve_leagues_and_cities_have_their_real_codes_and_names()
    {
        var (db, result) = await SeedAsync(100);

        var regions = await TestDb.QueryStringsAsync(db, "SELECT r.code || '|' || r.name || '|' || r.level || '|' || coalesce(p.code, '-') FROM regions r LEFT JOIN regions p ON p.id = r.parent_id ORDER BY r.code");
        var expected = RealRegions
            .OrderBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => r.Key == "150000" ? $"150000|{r.Value.Name}|province|-" : $"{r.Key}|{r.Value.Name}|league_city|150000");
        Assert.Equal(expected, regions);
        Assert.Equal(13, result.Counts.Regions);
        // Hohhot's centre is where the design says (40.84N 111.75E).
        Assert.True(await TestDb.ScalarAsync<bool>(db, "SELECT ST_DWithin(centre::geography, ST_MakePoint(111.75, 40.84)::geography, 1000) FROM regions WHERE code = '150100'"));
    }

    [Fact(Timeout = Timeout)]
    public async Task About_forty_departments_each_have_an_address_and_a_lot_within_10_km_of_their_region_centre()
    {
        var (db, _) = await SeedAsync();

        var departments = await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM departments");
        Assert.InRange(departments, 35, 45);
        Assert.Equal(
            departments,
            await TestDb.ScalarAsync<long>(
                db,
                """
                SELECT count(*) FROM departments d JOIN regions r ON r.id = d.region_id
                WHERE ST_DWithin(d.parking_lot::geography, r.centre::geography, 10000)
                  AND ST_DWithin(d.location::geography, r.centre::geography, 10000)
                  AND ST_DWithin(d.parking_lot::geography, d.location::geography, 150)  -- the lot is next to the office
                  AND ST_Area(d.parking_lot::geography) BETWEEN 1800 AND 3000           -- ≈ 40 × 60 m
                  AND ST_NumGeometries(d.parking_lot) = 1
                  AND d.address LIKE '%号' AND btrim(d.name) <> ''
                """));
        // Every 盟市 has at least one department, so every plate prefix is in use.
        Assert.Equal(13L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT region_id) FROM departments"));
        Assert.Contains("内蒙古自治区财政厅", await TestDb.QueryStringsAsync(db, "SELECT name FROM departments"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Each_office_zone_pools_several_departments_of_its_region_inside_its_boundary()
    {
        var (db, result) = await SeedAsync();

        Assert.True(result.Counts.OfficeZones >= 3);
        var zones = await TestDb.QueryStringsAsync(
            db,
            """
            SELECT z.name || '|' || count(d.id) || '|' || bool_and(d.region_id = z.region_id)
                   || '|' || bool_and(ST_Contains(z.boundary, d.parking_lot) AND ST_Contains(z.boundary, d.location))
            FROM office_zones z LEFT JOIN departments d ON d.office_zone_id = z.id
            GROUP BY z.id ORDER BY z.id
            """);
        Assert.True(zones.Count >= 3);
        Assert.All(zones, zone =>
        {
            var parts = zone.Split('|');
            Assert.True(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) >= 3, zone);
            Assert.Equal("true|true", $"{parts[2]}|{parts[3]}");
        });
        Assert.Contains(zones, z => z.StartsWith("包头市", StringComparison.Ordinal));
        Assert.Contains(zones, z => z.StartsWith("鄂尔多斯市", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeout)]
    public async Task Vehicles_and_drivers_carry_their_departments_office_zone_and_there_is_a_driver_per_two_to_three_vehicles()
    {
        var (db, result) = await SeedAsync();

        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles v JOIN departments d ON d.id = v.department_id WHERE v.office_zone_id IS DISTINCT FROM d.office_zone_id"));
        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM drivers r JOIN departments d ON d.id = r.department_id WHERE r.office_zone_id IS DISTINCT FROM d.office_zone_id"));
        Assert.True(await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles WHERE office_zone_id IS NOT NULL") > 0);
        Assert.InRange(result.Counts.Drivers, 2000 / 3, 2000 / 2);
        Assert.Equal((long)result.Counts.Drivers, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM drivers WHERE phone ~ '^1[3-9][0-9]{9}$' AND char_length(name) BETWEEN 2 AND 6"));
        Assert.True(await TestDb.ScalarAsync<bool>(db, "SELECT avg((licence_class = 'C1')::int) > 0.5 FROM drivers"));
        Assert.True(await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT licence_class) FROM drivers") >= 4);
    }

    [Fact(Timeout = Timeout)]
    public async Task Plates_carry_their_region_prefix_and_new_energy_plates_have_eight_characters()
    {
        var (db, _) = await SeedAsync();

        var plates = await TestDb.QueryStringsAsync(db, "SELECT r.code || '|' || v.plate || '|' || v.energy FROM vehicles v JOIN departments d ON d.id = v.department_id JOIN regions r ON r.id = d.region_id");
        Assert.Equal(2000, plates.Count);
        Assert.All(plates, row =>
        {
            var (code, plate, energy) = (row.Split('|')[0], row.Split('|')[1], row.Split('|')[2]);
            Assert.StartsWith(RealRegions[code].Prefix, plate, StringComparison.Ordinal);
            var pattern = energy switch
            {
                "bev" => @"^蒙[A-M]D[0-9]{5}$",
                "phev" or "fcev" => @"^蒙[A-M]F[0-9]{5}$",
                _ => @"^蒙[A-M]([A-HJ-NP-Z0-9]{5}|[A-HJ-NP-Z0-9][0-9]{3}警)$",
            };
            Assert.Matches(pattern, plate);
        });
        Assert.True(await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles WHERE plate LIKE '%警' AND category = 'law_enforcement'") > 0);
    }

    [Fact(Timeout = Timeout)]
    public async Task Vins_are_unique_17_characters_with_a_correct_check_digit()
    {
        var (db, _) = await SeedAsync();

        var vins = await TestDb.QueryStringsAsync(db, "SELECT vin FROM vehicles");

        Assert.Equal(2000, vins.Distinct(StringComparer.Ordinal).Count());
        Assert.All(vins, vin =>
        {
            Assert.Matches("^[A-HJ-NPR-Z0-9]{17}$", vin);
            Assert.Equal(CheckDigit(vin), vin[8]);
        });
    }

    [Fact(Timeout = Timeout)]
    public async Task The_fleet_mix_is_mostly_general_with_a_large_law_enforcement_share_some_new_energy_and_some_rental()
    {
        var (db, _) = await SeedAsync();

        async Task<double> Share(string condition) =>
            await TestDb.ScalarAsync<double>(db, $"SELECT avg(({condition})::int)::float8 FROM vehicles");

        var general = await Share("category = 'general'");
        var lawEnforcement = await Share("category = 'law_enforcement'");
        Assert.InRange(lawEnforcement, 0.25, 0.45);
        Assert.True(general > lawEnforcement, $"general {general:P1}, law enforcement {lawEnforcement:P1}");
        Assert.InRange(await Share("energy IN ('bev', 'phev', 'fcev')"), 0.18, 0.32);
        Assert.InRange(await Share("ownership = 'rental'"), 0.002, 0.012);
        Assert.InRange(await Share("status = 'maintenance'"), 0.005, 0.06);
        Assert.InRange(await Share("marked"), 0.85, 0.99);
        Assert.Equal(7L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT category) FROM vehicles"));
        // 社会化 rental vehicles do not count against the 编制 and carry no official marking.
        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles WHERE ownership = 'rental' AND (on_quota OR marked)"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Every_department_holding_is_covered_by_its_quota()
    {
        var (db, _) = await SeedAsync();

        var overQuota = await TestDb.ScalarAsync<long>(
            db,
            """
            SELECT count(*) FROM (
                SELECT v.department_id, v.category, count(*) AS held FROM vehicles v GROUP BY 1, 2
            ) h LEFT JOIN vehicle_quotas q USING (department_id, category)
            WHERE h.held > coalesce(q.quota, 0)
            """);

        Assert.Equal(0L, overQuota);
        Assert.True(await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicle_quotas") >= 40);
    }

    [Fact(Timeout = Timeout)]
    public async Task Seeding_two_fresh_databases_with_the_same_seed_gives_the_same_registry_and_credentials()
    {
        var (first, firstResult) = await SeedAsync(seed: 7);
        var (second, secondResult) = await SeedAsync(seed: 7);

        Assert.Equal(await SnapshotAsync(first), await SnapshotAsync(second));
        Assert.Equal(firstResult.Terminals, secondResult.Terminals);
        Assert.Equal(firstResult.Users, secondResult.Users);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_different_seed_gives_different_plates_vins_terminal_ids_and_credentials()
    {
        var (first, firstResult) = await SeedAsync(seed: 7);
        var (second, secondResult) = await SeedAsync(seed: 8);

        var firstPlates = await TestDb.QueryStringsAsync(first, "SELECT plate FROM vehicles");
        var secondPlates = await TestDb.QueryStringsAsync(second, "SELECT plate FROM vehicles");
        Assert.True(firstPlates.Intersect(secondPlates).Count() < 200, "most plates should differ");
        Assert.Empty((await TestDb.QueryStringsAsync(first, "SELECT vin FROM vehicles")).Intersect(await TestDb.QueryStringsAsync(second, "SELECT vin FROM vehicles")));
        Assert.True(firstResult.Terminals.Select(t => t.TerminalId).Intersect(secondResult.Terminals.Select(t => t.TerminalId)).Count() < 10);
        Assert.Empty(firstResult.Terminals.Select(t => t.Password).Intersect(secondResult.Terminals.Select(t => t.Password)));
        Assert.Empty(firstResult.Users.Select(u => u.Password).Intersect(secondResult.Users.Select(u => u.Password)));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_second_seed_adds_nothing_and_says_the_registry_was_already_seeded()
    {
        var (db, first) = await SeedAsync(500);
        var before = await SnapshotAsync(db);

        var again = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(800, 99), null, Ct);

        Assert.True(again.AlreadySeeded);
        Assert.Equal(first.Counts, again.Counts);
        Assert.Empty(again.Users);
        Assert.Empty(again.Terminals);
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Fact(Timeout = Timeout)]
    public async Task Two_seeders_starting_together_write_the_registry_once()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var results = await Task.WhenAll(
            Task.Run(() => DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(500), null, Ct), Ct),
            Task.Run(() => DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(500), null, Ct), Ct));

        Assert.Single(results, r => !r.AlreadySeeded);
        Assert.Single(results, r => r.AlreadySeeded);
        Assert.Equal(500L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles"));
        Assert.Equal(13L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM regions"));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_cancelled_seed_leaves_nothing_behind_and_the_next_seed_succeeds()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var progress = new RecordingProgress(p =>
        {
            if (p.Phase == SeedPhases.Drivers)
            {
                cancel.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(2000), progress, cancel.Token));

        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT (SELECT count(*) FROM vehicles) + (SELECT count(*) FROM departments) + (SELECT count(*) FROM regions)"));
        var result = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(2000), null, Ct);
        Assert.False(result.AlreadySeeded);
        Assert.Equal(2000L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicles"));
    }

    [Fact(Timeout = Timeout)]
    public async Task There_is_a_demo_user_for_every_role_and_their_hashes_verify_with_the_identity_password_hasher()
    {
        var (db, result) = await SeedAsync(100);

        string[] roles = ["admin", "dispatcher", "department_manager", "supervisor", "driver", "requester"];
        Assert.Equal(roles.Order(StringComparer.Ordinal), result.Users.Select(u => u.Role).Distinct().Order(StringComparer.Ordinal));
        Assert.All(result.Users.Where(u => u.Role is "department_manager" or "driver" or "requester"), u => Assert.NotNull(u.Department));
        Assert.Contains(result.Users, u => u.Username == "admin");

        var hasher = new PasswordHasher<object>();
        foreach (var user in result.Users)
        {
            var row = await TestDb.QueryStringsAsync(
                db,
                "SELECT u.password_hash || '|' || u.role || '|' || coalesce(d.name, '-') FROM users u LEFT JOIN departments d ON d.id = u.department_id WHERE u.username = $1",
                user.Username);
            var parts = Assert.Single(row).Split('|');
            Assert.Equal(PasswordVerificationResult.Success, hasher.VerifyHashedPassword(new object(), parts[0], user.Password));
            Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(new object(), parts[0], user.Password + "x"));
            Assert.Equal($"{user.Role}|{user.Department ?? "-"}", $"{parts[1]}|{parts[2]}");
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task Every_terminal_hash_verifies_its_demo_password_with_the_mosquitto_hash()
    {
        var (db, result) = await SeedAsync();

        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in await TestDb.QueryStringsAsync(db, "SELECT id || ' ' || credential_hash FROM terminals"))
        {
            hashes[row[..row.IndexOf(' ', StringComparison.Ordinal)]] = row[(row.IndexOf(' ', StringComparison.Ordinal) + 1)..];
        }

        Assert.Equal(2000, hashes.Count);
        Assert.All(result.Terminals, t => Assert.True(MosquittoPasswordHash.Verify(t.Password, hashes[t.TerminalId]), t.TerminalId));
        Assert.False(MosquittoPasswordHash.Verify(result.Terminals[1].Password, hashes[result.Terminals[0].TerminalId]));
        Assert.Equal(2000, result.Terminals.Select(t => t.Password).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact(Timeout = Timeout)]
    public async Task Progress_is_reported_for_every_phase_and_each_phase_completes()
    {
        var progress = new RecordingProgress();

        await SeedAsync(progress: progress);

        string[] phases =
        [
            SeedPhases.Generate, SeedPhases.Regions, SeedPhases.Departments, SeedPhases.Vehicles, SeedPhases.TerminalCredentials,
            SeedPhases.Terminals, SeedPhases.Drivers, SeedPhases.Quotas, SeedPhases.Users, SeedPhases.Commit,
        ];
        Assert.All(phases, phase => Assert.Contains(progress.Reports, p => p.Phase == phase && p.Completed == p.Total));
        Assert.All(progress.Reports, p => Assert.InRange(p.Completed, 0, p.Total));
        Assert.Equal(SeedPhases.Commit, progress.Reports.Last().Phase);
    }

    [Theory(Timeout = Timeout)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(DemoSeedOptions.MaxVehicles + 1)]
    public async Task A_vehicle_count_out_of_range_is_refused_and_nothing_is_written(int vehicles)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(vehicles), null, Ct));

        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM regions"));
    }

    [Fact(Timeout = 240_000)]
    public async Task Seeding_100000_vehicles_gives_100000_distinct_vehicles_and_terminals()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var phaseStarts = new ConcurrentQueue<string>();
        var stopwatch = Stopwatch.StartNew();
        var progress = new RecordingProgress(p =>
        {
            if (p.Completed == 0 || p.Completed == p.Total)
            {
                phaseStarts.Enqueue($"{stopwatch.Elapsed.TotalSeconds,6:F2} s  {p.Phase} {p.Completed}/{p.Total}");
            }
        });

        var result = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(100_000), progress, Ct);

        var output = TestContext.Current.TestOutputHelper!;
        output.WriteLine($"Seeded 100,000 vehicles, {result.Counts.Drivers} drivers and 100,000 terminals in {result.Elapsed.TotalSeconds:F1} s");
        foreach (var line in phaseStarts)
        {
            output.WriteLine(line);
        }

        Assert.Equal(100_000L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT plate) FROM vehicles"));
        Assert.Equal(100_000L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT vin) FROM vehicles"));
        Assert.Equal(100_000L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT vehicle_id) FROM terminals t JOIN vehicles v ON v.id = t.vehicle_id"));
        Assert.Equal(100_000, result.Terminals.Count);
        Assert.Equal((long)result.Counts.Drivers, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM drivers"));
        // Ids come from the identity sequences, which were moved past the seeded block.
        await TestDb.ExecuteAsync(db, "INSERT INTO vehicles (plate, vin, category, department_id, energy, seats) SELECT '蒙A0000X', 'LSVAA4182E2000001', 'general', min(id), 'gasoline', 5 FROM departments");
        Assert.Equal(100_001L, await TestDb.ScalarAsync<long>(db, "SELECT max(id) FROM vehicles"));
    }

    /// <summary>The whole registry as text, ids included, for comparing two seeded databases.</summary>
    private static async Task<List<string>> SnapshotAsync(NpgsqlDataSource db)
    {
        var snapshot = new List<string>();
        foreach (var sql in new[]
        {
            "SELECT id || code || name || ST_AsText(centre) FROM regions ORDER BY id",
            "SELECT id || name || region_id || ST_AsText(boundary) FROM office_zones ORDER BY id",
            "SELECT concat_ws('|', id, name, region_id, office_zone_id, address, ST_AsText(location), ST_AsText(parking_lot)) FROM departments ORDER BY id",
            "SELECT concat_ws('|', id, plate, vin, category, ownership, department_id, office_zone_id, model, energy, seats, marked, on_quota, status) FROM vehicles ORDER BY id",
            "SELECT concat_ws('|', id, name, department_id, office_zone_id, licence_class, phone, status) FROM drivers ORDER BY id",
            "SELECT concat_ws('|', id, vehicle_id, enabled) FROM terminals ORDER BY id",
            "SELECT concat_ws('|', department_id, category, quota) FROM vehicle_quotas ORDER BY 1",
            "SELECT concat_ws('|', id, username, display_name, role, department_id, region_id) FROM users ORDER BY id",
        })
        {
            snapshot.AddRange(await TestDb.QueryStringsAsync(db, sql));
        }

        return snapshot;
    }

    /// <summary>ISO 3779 check digit, computed here independently of the generator.</summary>
    private static char CheckDigit(string vin)
    {
        const string Letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
        int[] letterValues = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9];
        int[] weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
        var sum = vin.Select((c, i) => (char.IsAsciiDigit(c) ? c - '0' : letterValues[Letters.IndexOf(c, StringComparison.Ordinal)]) * weights[i]).Sum();
        return sum % 11 == 10 ? 'X' : (char)('0' + (sum % 11));
    }

    /// <summary>Records reports synchronously (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    private sealed class RecordingProgress(Action<SeedProgress>? onReport = null) : IProgress<SeedProgress>
    {
        private readonly ConcurrentQueue<SeedProgress> _reports = new();

        public IReadOnlyCollection<SeedProgress> Reports => _reports;

        public void Report(SeedProgress value)
        {
            _reports.Enqueue(value);
            onReport?.Invoke(value);
        }
    }
}
