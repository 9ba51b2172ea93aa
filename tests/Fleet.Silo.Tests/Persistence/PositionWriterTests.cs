using System.Text;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

public sealed class PositionWriterTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;
    private static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static PositionRow Row(long vehicleId, long ts, uint seq, string? obd = null) => new(
        vehicleId,
        new TelemetryFix { Ts = ts, Seq = seq, Lat = 40.84, Lon = 111.75, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = -1, Hdop = float.NaN },
        Now,
        obd is null ? default : Encoding.UTF8.GetBytes(obd));

    [Fact(Timeout = Timeout)]
    public async Task A_batch_is_stored_with_every_field_and_absent_fields_as_null()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var full = new PositionRow(
            7,
            new TelemetryFix { Ts = Now - 1500, Seq = 4_000_000_000, Lat = 40.8414, Lon = 111.7519, Spd = 63.5f, Hdg = 270, Alt = 1050.25f, Acc = true, Odo = 12345.6, Fuel = 55, Soc = float.NaN, Sats = 11, Hdop = 0.9f, Alarm = 256 },
            Now,
            Encoding.UTF8.GetBytes("""{"rpm": 2100}"""));

        var result = await new PositionWriter(db).WriteAsync([full, Row(8, Now, 1)], TestContext.Current.CancellationToken);

        Assert.Equal(new PositionWriteResult(2, 0), result);
        var stored = await TestDb.QueryStringsAsync(
            db,
            "SELECT concat_ws('|', vehicle_id, (extract(epoch FROM ts) * 1000)::bigint, seq, lat, lon, spd, hdg, alt, acc, odo, fuel, coalesce(soc::text, 'null'), sats, hdop, alarm, obd->>'rpm') FROM positions ORDER BY vehicle_id");
        Assert.Equal(
            [
                $"7|{Now - 1500}|4000000000|40.8414|111.7519|63.5|270|1050.25|t|12345.6|55|null|11|0.9|256|2100",
                $"8|{Now}|1|40.84|111.75|null|0",
            ],
            stored);
        Assert.Equal(1L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions WHERE vehicle_id = 8 AND spd IS NULL AND hdg IS NULL AND acc IS NULL AND obd IS NULL AND alarm = 0"));
    }

    // 1999-12-31 23:59:59.999 UTC: before PostgreSQL's 2000-01-01 epoch, so its timestamptz is negative.
    private const long BeforeY2000Ms = 946_684_799_999;

    // 9000-06-15 12:34:56.789 UTC: far past any daily partition.
    private const long Year9000Ms = 221_859_693_296_789;

    private const string ChineseObd = """{"车牌": "蒙A·12345", "rpm": 2100, "故障": ["P0300", "水温过高"]}""";

    [Theory(Timeout = Timeout)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_column_reads_back_as_written_whether_by_plain_copy_or_by_the_duplicate_fallback(bool duplicateInBatch)
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var early = new PositionRow(
            11,
            new TelemetryFix { Ts = BeforeY2000Ms, Seq = uint.MaxValue, Lat = -33.868_812_345_678_9, Lon = -151.209_345_678_901, Spd = 63.5f, Hdg = 359, Alt = -27.25f, Acc = true, Odo = 987_654.321, Fuel = 0.5f, Soc = 99.75f, Sats = 32_000, Hdop = 12.125f, Alarm = uint.MaxValue },
            Year9000Ms,
            Encoding.UTF8.GetBytes(ChineseObd));
        var late = new PositionRow(
            12,
            new TelemetryFix { Ts = Year9000Ms, Seq = 0, Lat = -90, Lon = -180, Spd = 0f, Hdg = 0, Alt = 0f, Acc = false, Odo = 0, Fuel = 0f, Soc = 0f, Sats = 0, Hdop = 0f, Alarm = 0 },
            BeforeY2000Ms,
            Encoding.UTF8.GetBytes("""{"空": {}}"""));
        var empty = new PositionRow(
            13,
            new TelemetryFix { Ts = Now, Seq = 5, Lat = 90, Lon = 180, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Acc = null, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = short.MinValue, Hdop = float.NaN },
            Now,
            default);
        PositionRow[] batch = duplicateInBatch ? [empty, late, early, empty] : [late, empty, early];

        var result = await new PositionWriter(db).WriteAsync(batch, TestContext.Current.CancellationToken);

        Assert.Equal(new PositionWriteResult(3, duplicateInBatch ? 1 : 0), result);
        var stored = await ReadPositionsAsync(db);
        Assert.Equal([11L, 12L, 13L], stored.Select(r => r.VehicleId));

        var e = stored[0];
        Assert.Equal("1999-12-31 23:59:59.999", e.TsUtc);
        Assert.Equal(BeforeY2000Ms, e.TsMs);
        Assert.Equal("9000-06-15 12:34:56.789", e.ReceivedAtUtc);
        Assert.Equal(4_294_967_295L, e.Seq);
        Assert.Equal(-33.868_812_345_678_9, e.Lat);
        Assert.Equal(-151.209_345_678_901, e.Lon);
        Assert.Equal(63.5f, e.Spd);
        Assert.Equal((short)359, e.Hdg);
        Assert.Equal(-27.25f, e.Alt);
        Assert.True(e.Acc);
        Assert.Equal(987_654.321, e.Odo);
        Assert.Equal(0.5f, e.Fuel);
        Assert.Equal(99.75f, e.Soc);
        Assert.Equal((short)32_000, e.Sats);
        Assert.Equal(12.125f, e.Hdop);
        Assert.Equal(4_294_967_295L, e.Alarm);
        Assert.Equal("蒙A·12345", e.ObdPlate);
        Assert.True(e.ObdEqualsChinese);

        var l = stored[1];
        Assert.Equal("9000-06-15 12:34:56.789", l.TsUtc);
        Assert.Equal(Year9000Ms, l.TsMs);
        Assert.Equal("1999-12-31 23:59:59.999", l.ReceivedAtUtc);
        Assert.Equal(0L, l.Seq);
        Assert.Equal(-90.0, l.Lat);
        Assert.Equal(-180.0, l.Lon);
        Assert.Equal(0f, l.Spd);
        Assert.Equal((short)0, l.Hdg);
        Assert.Equal(0f, l.Alt);
        Assert.False(l.Acc);
        Assert.Equal(0.0, l.Odo);
        Assert.Equal(0f, l.Fuel);
        Assert.Equal(0f, l.Soc);
        Assert.Equal((short)0, l.Sats);
        Assert.Equal(0f, l.Hdop);
        Assert.Equal(0L, l.Alarm);
        Assert.Equal("""{"空": {}}""", l.ObdText);

        var n = stored[2];
        Assert.Equal(Now, n.TsMs);
        Assert.Equal(5L, n.Seq);
        Assert.Equal(90.0, n.Lat);
        Assert.Equal(180.0, n.Lon);
        Assert.Null(n.Spd);
        Assert.Null(n.Hdg);
        Assert.Null(n.Alt);
        Assert.Null(n.Acc);
        Assert.Null(n.Odo);
        Assert.Null(n.Fuel);
        Assert.Null(n.Soc);
        Assert.Null(n.Sats);
        Assert.Null(n.Hdop);
        Assert.Equal(0L, n.Alarm);
        Assert.Null(n.ObdText);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_batch_many_times_the_copy_chunk_with_a_large_obd_is_stored_whole_and_redelivered_whole()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var writer = new PositionWriter(db);
        // ~160 bytes a row: 3,000 rows are about seven 64 KiB chunks, and the 120 KB obd is larger than a chunk.
        var big = "{\"note\": \"" + new string('蒙', 40_000) + "\"}";
        var rows = Enumerable.Range(0, 3_000).Select(i => Row(100 + (i % 37), Now - (i * 1000L), (uint)i, i == 1_500 ? big : null)).ToList();

        var first = await writer.WriteAsync(rows, TestContext.Current.CancellationToken);
        var again = await writer.WriteAsync([.. rows, Row(99, Now, 1)], TestContext.Current.CancellationToken);

        Assert.Equal(new PositionWriteResult(3_000, 0), first);
        Assert.Equal(new PositionWriteResult(1, 3_000), again);
        Assert.Equal(3_001L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions"));
        Assert.Equal(Enumerable.Range(0, 3_000).Sum(i => (long)i) + 1, await TestDb.ScalarAsync<decimal>(db, "SELECT sum(seq) FROM positions"));
        Assert.Equal(40_000, await TestDb.ScalarAsync<int>(db, "SELECT char_length(obd->>'note') FROM positions WHERE seq = 1500"));
        Assert.Equal(1L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions WHERE obd IS NOT NULL"));
    }

    private sealed record StoredPosition(
        long VehicleId,
        string TsUtc,
        long TsMs,
        string ReceivedAtUtc,
        long Seq,
        double Lat,
        double Lon,
        float? Spd,
        short? Hdg,
        float? Alt,
        bool? Acc,
        double? Odo,
        float? Fuel,
        float? Soc,
        short? Sats,
        float? Hdop,
        long? Alarm,
        string? ObdText,
        string? ObdPlate,
        bool ObdEqualsChinese);

    private static async Task<List<StoredPosition>> ReadPositionsAsync(NpgsqlDataSource db)
    {
        // The times are also formatted by the server, so a wrong epoch or unit cannot cancel out in a client round trip.
        await using var command = db.CreateCommand(
            """
            SELECT vehicle_id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), ts,
                   to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), seq, lat, lon, spd, hdg, alt, acc, odo,
                   fuel, soc, sats, hdop, alarm, obd::text, obd->>'车牌', coalesce(obd = $1::jsonb, false)
            FROM positions ORDER BY vehicle_id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = ChineseObd });
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var rows = new List<StoredPosition>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            T? Get<T>(int i)
                where T : struct => reader.IsDBNull(i) ? null : reader.GetFieldValue<T>(i);
            rows.Add(new StoredPosition(
                reader.GetInt64(0),
                reader.GetString(1),
                new DateTimeOffset(reader.GetDateTime(2)).ToUnixTimeMilliseconds(),
                reader.GetString(3),
                reader.GetInt64(4),
                reader.GetDouble(5),
                reader.GetDouble(6),
                Get<float>(7),
                Get<short>(8),
                Get<float>(9),
                Get<bool>(10),
                Get<double>(11),
                Get<float>(12),
                Get<float>(13),
                Get<short>(14),
                Get<float>(15),
                Get<long>(16),
                reader.IsDBNull(17) ? null : reader.GetString(17),
                reader.IsDBNull(18) ? null : reader.GetString(18),
                reader.GetBoolean(19)));
        }

        return rows;
    }

    [Fact(Timeout = Timeout)]
    public async Task A_redelivered_batch_stores_only_the_new_reports()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var writer = new PositionWriter(db);
        var first = Enumerable.Range(0, 100).Select(i => Row(1, Now - (i * 1000), (uint)i)).ToList();
        await writer.WriteAsync(first, TestContext.Current.CancellationToken);

        // After a crash the broker redelivers the unacknowledged tail, mixed with reports it had not sent yet.
        var redelivery = first.Skip(60).Concat(Enumerable.Range(100, 50).Select(i => Row(1, Now - (i * 1000), (uint)i))).ToList();
        var result = await writer.WriteAsync(redelivery, TestContext.Current.CancellationToken);

        Assert.Equal(new PositionWriteResult(50, 40), result);
        Assert.Equal(150L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions"));
        Assert.Equal(150L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions"));
    }

    [Fact(Timeout = Timeout)]
    public async Task The_same_report_twice_in_one_batch_is_stored_once()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var result = await new PositionWriter(db).WriteAsync([Row(3, Now, 9), Row(3, Now, 9), Row(3, Now, 10)], TestContext.Current.CancellationToken);

        Assert.Equal(new PositionWriteResult(2, 1), result);
        Assert.Equal(2L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions WHERE vehicle_id = 3"));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_backlog_report_from_weeks_ago_is_stored_in_the_default_partition()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var old = Now - (20L * 24 * 3600 * 1000);

        await new PositionWriter(db).WriteAsync([Row(4, old, 1)], TestContext.Current.CancellationToken);

        Assert.Equal(["positions_default"], await TestDb.QueryStringsAsync(db, "SELECT tableoid::regclass::text FROM positions WHERE vehicle_id = 4"));
    }
}
