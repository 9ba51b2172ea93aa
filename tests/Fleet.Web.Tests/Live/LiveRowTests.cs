using System.Text;
using System.Text.Json;
using Fleet.Silo.Grains;
using Fleet.Web.Live;

namespace Fleet.Web.Tests.Live;

/// <summary>The compact row, byte for byte: the map page parses exactly this.</summary>
public sealed class LiveRowTests
{
    [Fact(Timeout = 5_000)]
    public void Rows_are_compact_arrays_with_rounded_values_and_state_codes()
    {
        var moving = State(23_188, 40.84231749, 111.74982251, 42.36f, 271, true, MotionState.Moving, online: true, ts: 1_795_324_789_999);
        var parkedOffline = State(7, 40.5, 111.25, null, null, null, MotionState.Parked, online: false, ts: 1_795_324_000_000);
        var parked = parkedOffline with { Online = true };
        var stopped = parked with { Motion = MotionState.Stopped, Spd = 0f, Hdg = 0, Acc = false };

        var json = Write(new LiveFrame(9, new LiveRows([moving, parkedOffline, parked, stopped], 4, pooled: false), [3L]));

        Assert.Equal(
            """{"seq":9,"rows":[[23188,40.842317,111.749823,42.4,271,0,1,1795324789999,1],[7,40.5,111.25,null,null,3,null,1795324000000,0],[7,40.5,111.25,null,null,2,null,1795324000000,1],[7,40.5,111.25,0,0,1,0,1795324000000,1]],"removed":[3]}""",
            json);
    }

    [Fact(Timeout = 5_000)]
    public void A_realistic_row_is_about_57_bytes()
    {
        var row = State(23_188, 40.842317, 111.749823, 42.4f, 271, true, MotionState.Moving, online: true, ts: 1_795_324_789_000);

        var json = Write(new LiveRows([row], 1, pooled: false));

        // 23,188 vehicles: a full snapshot is ~1.3 MB; a frame of 1,000 changes ~58 kB.
        Assert.Equal("[[23188,40.842317,111.749823,42.4,271,0,1,1795324789000,1]]", json);
        Assert.Equal(57, Encoding.UTF8.GetByteCount(json) - 2);
    }

    [Fact(Timeout = 5_000)]
    public void Pooled_rows_go_back_once_and_cannot_be_written_after()
    {
        var array = System.Buffers.ArrayPool<VehicleLiveState>.Shared.Rent(4);
        array[0] = State(1, 40, 111, null, null, null, MotionState.Stopped, online: true, ts: 1_000);
        var rows = new LiveRows(array, 1, pooled: true);

        rows.Release();
        rows.Release();

        Assert.Throws<ObjectDisposedException>(() => rows.States.Length);
        LiveRows.Empty.Release();
        Assert.Equal(0, LiveRows.Empty.States.Length);
    }

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static string Write<T>(T value) => JsonSerializer.Serialize(value, Web);

    private static VehicleLiveState State(long id, double lat, double lon, float? spd, short? hdg, bool? acc, MotionState motion, bool online, long ts) =>
        new(id, ts, lat, lon, spd, hdg, acc, null, motion, online, ts, 0, new DateOnly(2026, 11, 22), null, 1);
}
