using System.Text;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;
using Fleet.TestSupport;

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
