using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

public sealed class SchemaConstraintTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;

    [Fact(Timeout = Timeout)]
    public async Task A_duplicate_plate_is_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);
        await InsertVehicleAsync(db, department, "蒙A12345", "LSVAA4182E2000001", "general");

        var error = await Assert.ThrowsAsync<PostgresException>(() => InsertVehicleAsync(db, department, "蒙A12345", "LSVAA4182E2000002", "general"));

        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
        Assert.Equal("vehicles_plate_key", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_duplicate_vin_is_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);
        await InsertVehicleAsync(db, department, "蒙A12345", "LSVAA4182E2000001", "general");

        var error = await Assert.ThrowsAsync<PostgresException>(() => InsertVehicleAsync(db, department, "蒙A54321", "LSVAA4182E2000001", "general"));

        Assert.Equal("vehicles_vin_key", error.ConstraintName);
    }

    [Theory(Timeout = Timeout)]
    [InlineData("official")]
    [InlineData("General")]
    [InlineData("rental")]
    [InlineData("")]
    public async Task A_category_outside_the_regulated_set_is_rejected(string category)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);

        var error = await Assert.ThrowsAsync<PostgresException>(() => InsertVehicleAsync(db, department, "蒙A12345", "LSVAA4182E2000001", category));

        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
        Assert.Equal("vehicles_category_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task Every_regulated_category_is_accepted()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);
        string[] categories = ["general", "confidential_comms", "emergency", "law_enforcement", "special_technical", "leader", "directed_support"];

        for (var i = 0; i < categories.Length; i++)
        {
            await InsertVehicleAsync(db, department, $"蒙A1000{i}", $"LSVAA4182E200000{i}", categories[i]);
        }

        Assert.Equal(categories.Length, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT category) FROM vehicles"));
    }

    [Theory(Timeout = Timeout)]
    [InlineData("LSVAA4182E200000")]   // 16 characters
    [InlineData("LSVAA4182E2000O01")]  // letter O is not used in VINs
    [InlineData("lsvaa4182e2000001")]  // lower case
    public async Task A_vin_that_is_not_17_valid_characters_is_rejected(string vin)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);

        var error = await Assert.ThrowsAsync<PostgresException>(() => InsertVehicleAsync(db, department, "蒙A12345", vin, "general"));

        Assert.Equal("vehicles_vin_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_duplicate_position_for_the_same_vehicle_time_and_sequence_is_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var ts = DateTime.UtcNow;
        const string Insert = "INSERT INTO positions (vehicle_id, ts, seq, lat, lon) VALUES ($1, $2, $3, 40.84, 111.75)";
        await TestDb.ExecuteAsync(db, Insert, 7L, ts, 1L);
        await TestDb.ExecuteAsync(db, Insert, 7L, ts, 2L);   // same time, next sequence: a distinct report
        await TestDb.ExecuteAsync(db, Insert, 8L, ts, 1L);   // another vehicle

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, Insert, 7L, ts, 1L));

        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
    }

    [Theory(Timeout = Timeout)]
    [InlineData("fleet/T1")]
    [InlineData("T+1")]
    [InlineData("T#1")]
    [InlineData("")]
    public async Task A_terminal_id_that_cannot_be_a_topic_level_is_rejected(string terminalId)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, "INSERT INTO terminals (id, credential_hash) VALUES ($1, 'x')", terminalId));

        Assert.Equal("terminals_id_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_driver_licence_class_outside_the_national_classes_is_rejected()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);
        const string Insert = "INSERT INTO drivers (name, department_id, licence_class) VALUES ('张师傅', $1, $2)";
        await TestDb.ExecuteAsync(db, Insert, department, "B1");

        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ExecuteAsync(db, Insert, department, "Z9"));

        Assert.Equal("drivers_licence_class_check", error.ConstraintName);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_department_parking_lot_is_stored_as_a_polygon_that_contains_its_location()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var department = await SeedDepartmentAsync(db);

        var inside = await TestDb.ScalarAsync<bool>(db, "SELECT ST_Contains(parking_lot, location) FROM departments WHERE id = $1", department);

        Assert.True(inside);
    }

    private static Task<int> InsertVehicleAsync(NpgsqlDataSource db, int department, string plate, string vin, string category) =>
        TestDb.ExecuteAsync(
            db,
            "INSERT INTO vehicles (plate, vin, category, department_id, energy, seats) VALUES ($1, $2, $3, $4, 'bev', 5)",
            plate,
            vin,
            category,
            department);

    /// <summary>Hohhot with one department whose designated lot is a small square around its office.</summary>
    private static async Task<int> SeedDepartmentAsync(NpgsqlDataSource db)
    {
        var region = await TestDb.ScalarAsync<int>(
            db,
            "INSERT INTO regions (code, name, level, centre) VALUES ('150000', '内蒙古自治区', 'province', ST_SetSRID(ST_MakePoint(111.67, 40.82), 4326)) RETURNING id");
        var city = await TestDb.ScalarAsync<int>(
            db,
            "INSERT INTO regions (code, name, parent_id, level, centre) VALUES ('150100', '呼和浩特市', $1, 'league_city', ST_SetSRID(ST_MakePoint(111.75, 40.84), 4326)) RETURNING id",
            region);
        return await TestDb.ScalarAsync<int>(
            db,
            """
            INSERT INTO departments (region_id, name, address, location, parking_lot)
            VALUES ($1, '市机关事务服务中心', '新华大街1号',
                    ST_SetSRID(ST_MakePoint(111.75, 40.84), 4326),
                    ST_Multi(ST_MakeEnvelope(111.749, 40.839, 111.751, 40.841, 4326)))
            RETURNING id
            """,
            city);
    }
}
