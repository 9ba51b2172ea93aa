using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fleet.Silo.Grains;

namespace Fleet.Web.Live;

/// <summary>What <c>Subscribe</c> returns: every vehicle in scope now, as compact rows (see <see cref="LiveRow"/>).</summary>
/// <param name="Seq">The frame round at the time of the snapshot. Frames carry increasing rounds; one with a seq up to
/// this one holds nothing the snapshot lacks, so a client may drop it.</param>
public sealed record LiveSnapshot(long Seq, IReadOnlyList<string> Fields, LiveRows Rows);

/// <summary>
/// The server → client <c>frame</c>: the vehicles in scope that changed since the previous frame, newest state
/// each, and the ids that left a bbox scope.
/// </summary>
public sealed record LiveFrame(long Seq, LiveRows Rows, IReadOnlyList<long> Removed);

/// <summary>
/// The compact row: <c>[id, lat, lon, spd, hdg, state, acc, ts, online]</c>. An array rather than an object per
/// vehicle: at 23,000 vehicles the property names alone would double a snapshot.
/// </summary>
public static class LiveRow
{
    public const string MethodName = "frame";

    public const int Moving = 0;
    public const int Stopped = 1;
    public const int Parked = 2;
    public const int Offline = 3;

    /// <summary>No live state known; not sent today (only vehicles with a fix are), reserved for the map.</summary>
    public const int Unknown = 4;

    public static readonly IReadOnlyList<string> Fields = ["id", "lat", "lon", "spd", "hdg", "state", "acc", "ts", "online"];

    /// <summary>Offline wins over the last motion: a silent vehicle is not "moving".</summary>
    public static int StateCode(VehicleLiveState state) => !state.Online
        ? Offline
        : state.Motion switch
        {
            MotionState.Moving => Moving,
            MotionState.Stopped => Stopped,
            MotionState.Parked => Parked,
            _ => Unknown,
        };

    public static void Write(Utf8JsonWriter writer, VehicleLiveState state)
    {
        writer.WriteStartArray();
        writer.WriteNumberValue(state.VehicleId);
        // Six decimals are ~0.1 m; the shortest round-trip form of the rounded value has no more digits than that.
        writer.WriteNumberValue(Math.Round(state.Lat, 6));
        writer.WriteNumberValue(Math.Round(state.Lon, 6));
        if (state.Spd is { } spd)
        {
            writer.WriteNumberValue(Math.Round((double)spd, 1));
        }
        else
        {
            writer.WriteNullValue();
        }

        if (state.Hdg is { } hdg)
        {
            writer.WriteNumberValue(hdg);
        }
        else
        {
            writer.WriteNullValue();
        }

        writer.WriteNumberValue(StateCode(state));
        if (state.Acc is { } acc)
        {
            writer.WriteNumberValue(acc ? 1 : 0);
        }
        else
        {
            writer.WriteNullValue();
        }

        // Epoch ms, as reported: the benchmark measures report-to-frame latency from it, and the map shows seconds.
        writer.WriteNumberValue(state.Ts);
        writer.WriteNumberValue(state.Online ? 1 : 0);
        writer.WriteEndArray();
    }
}

/// <summary>
/// A run of live states written as compact rows, straight from the states: no per-row object or string. The array
/// may be rented from the pool; whoever rented it returns it once the message is written (<see cref="Release"/>).
/// </summary>
[JsonConverter(typeof(LiveRowsConverter))]
public sealed class LiveRows
{
    public static readonly LiveRows Empty = new([], 0, pooled: false);

    private VehicleLiveState[]? _states;
    private readonly int _count;
    private readonly bool _pooled;

    public LiveRows(VehicleLiveState[] states, int count, bool pooled)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, states.Length);
        _states = states;
        _count = count;
        _pooled = pooled;
    }

    public int Count => _count;

    public ReadOnlySpan<VehicleLiveState> States =>
        (_states ?? throw new ObjectDisposedException(nameof(LiveRows))).AsSpan(0, _count);

    /// <summary>Gives a pooled array back; the rows must not be written afterwards.</summary>
    public void Release()
    {
        if (!_pooled)
        {
            return;
        }

        var states = Interlocked.Exchange(ref _states, null);
        if (states is not null)
        {
            ArrayPool<VehicleLiveState>.Shared.Return(states, clearArray: true);
        }
    }
}

/// <summary>Writes <see cref="LiveRows"/> as an array of <see cref="LiveRow"/> arrays; write-only.</summary>
public sealed class LiveRowsConverter : JsonConverter<LiveRows>
{
    public override LiveRows Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Live rows are only ever sent.");

    public override void Write(Utf8JsonWriter writer, LiveRows value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var state in value.States)
        {
            LiveRow.Write(writer, state);
        }

        writer.WriteEndArray();
    }
}
