using System.Buffers;
using System.Buffers.Binary;

namespace Fleet.Silo.Persistence;

/// <summary>
/// Encodes <see cref="PositionRow"/>s in PostgreSQL's binary COPY format, for the column list
/// <see cref="Columns"/>, into a pooled byte buffer. Npgsql's binary importer costs an async generic call per
/// column; this writes a whole row with a few span stores, and the caller hands the bytes to a raw COPY stream
/// in chunks (<see cref="FlushThreshold"/>), so memory stays bounded however large the batch.
/// Format (PostgreSQL docs, COPY, "Binary Format"): an 11-byte signature, int32 flags, int32 header-extension
/// length; per tuple an int16 field count, then per field an int32 byte length (-1 for NULL) and the value in
/// network byte order; an int16 -1 trailer.
/// </summary>
public sealed class PositionCopyEncoder : IDisposable
{
    /// <summary>The column order every encoded tuple follows.</summary>
    public const string Columns = "vehicle_id, ts, received_at, seq, lat, lon, spd, hdg, alt, acc, odo, fuel, soc, sats, hdop, alarm, obd";

    /// <summary>How many buffered bytes make it worth handing them to the COPY stream.</summary>
    public const int FlushThreshold = 64 * 1024;

    private const short FieldCount = 17;

    // Every field but obd's text: field count, 17 length words and the fixed-size values (see WriteRow).
    private const int FixedRowBytes = 2 + (FieldCount * 4) + 8 + 8 + 8 + 8 + 8 + 8 + 4 + 2 + 4 + 1 + 8 + 4 + 4 + 2 + 4 + 8 + 1;

    // timestamptz is microseconds since 2000-01-01 00:00 UTC; our times are epoch milliseconds.
    private const long PostgresEpochUnixMs = 946_684_800_000;

    private const byte JsonbVersion = 1;

    private byte[] _buffer;
    private int _length;

    public PositionCopyEncoder()
    {
        _buffer = ArrayPool<byte>.Shared.Rent(FlushThreshold + 4096);
    }

    /// <summary>"PGCOPY\n\377\r\n\0".</summary>
    public static ReadOnlySpan<byte> Signature => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0];

    /// <summary>Bytes encoded and not yet taken with <see cref="Clear"/>.</summary>
    public int Length => _length;

    /// <summary>The encoded bytes; valid until the next write or <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>Forgets the encoded bytes (after they were sent), keeping the buffer.</summary>
    public void Clear() => _length = 0;

    public void WriteHeader()
    {
        var span = Reserve(Signature.Length + 8);
        Signature.CopyTo(span);
        BinaryPrimitives.WriteInt32BigEndian(span[11..], 0); // flags: no OIDs
        BinaryPrimitives.WriteInt32BigEndian(span[15..], 0); // header extension length
        _length += Signature.Length + 8;
    }

    public void WriteTrailer()
    {
        BinaryPrimitives.WriteInt16BigEndian(Reserve(2), -1);
        _length += 2;
    }

    /// <summary>
    /// Appends one tuple. Absent values become NULL exactly as the table expects them: NaN real/double, negative
    /// smallint, null acc, empty obd.
    /// </summary>
    public void WriteRow(in PositionRow row)
    {
        var obd = row.ObdJson.Span;
        var span = Reserve(FixedRowBytes + obd.Length);
        var fix = row.Fix;
        BinaryPrimitives.WriteInt16BigEndian(span, FieldCount);
        var at = 2;
        at = Int64(span, at, row.VehicleId);
        at = Int64(span, at, ToPostgresMicroseconds(fix.Ts));
        at = Int64(span, at, ToPostgresMicroseconds(row.ReceivedAtMs));
        at = Int64(span, at, fix.Seq);
        at = Float64(span, at, fix.Lat);
        at = Float64(span, at, fix.Lon);
        at = Float32OrNull(span, at, fix.Spd);
        at = Int16OrNull(span, at, fix.Hdg);
        at = Float32OrNull(span, at, fix.Alt);
        if (fix.Acc is { } acc)
        {
            BinaryPrimitives.WriteInt32BigEndian(span[at..], 1);
            span[at + 4] = acc ? (byte)1 : (byte)0;
            at += 5;
        }
        else
        {
            at = Null(span, at);
        }

        at = double.IsNaN(fix.Odo) ? Null(span, at) : Float64(span, at, fix.Odo);
        at = Float32OrNull(span, at, fix.Fuel);
        at = Float32OrNull(span, at, fix.Soc);
        at = Int16OrNull(span, at, fix.Sats);
        at = Float32OrNull(span, at, fix.Hdop);
        at = Int64(span, at, fix.Alarm);
        if (obd.IsEmpty)
        {
            at = Null(span, at);
        }
        else
        {
            // The parser already checked the payload is UTF-8 JSON that jsonb accepts, so its bytes go in as they came.
            BinaryPrimitives.WriteInt32BigEndian(span[at..], 1 + obd.Length);
            span[at + 4] = JsonbVersion;
            obd.CopyTo(span[(at + 5)..]);
            at += 5 + obd.Length;
        }

        _length += at;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Epoch milliseconds as PostgreSQL's timestamptz: microseconds since 2000-01-01 00:00 UTC.</summary>
    public static long ToPostgresMicroseconds(long epochMs) => (epochMs - PostgresEpochUnixMs) * 1000;

    /// <summary>Room for <paramref name="bytes"/> more at the end; grows (rarely: a row with a large obd) by renting anew.</summary>
    private Span<byte> Reserve(int bytes)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (_buffer.Length - _length < bytes)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + bytes));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        return _buffer.AsSpan(_length);
    }

    private static int Null(Span<byte> span, int at)
    {
        BinaryPrimitives.WriteInt32BigEndian(span[at..], -1);
        return at + 4;
    }

    private static int Int64(Span<byte> span, int at, long value)
    {
        BinaryPrimitives.WriteInt32BigEndian(span[at..], 8);
        BinaryPrimitives.WriteInt64BigEndian(span[(at + 4)..], value);
        return at + 12;
    }

    private static int Float64(Span<byte> span, int at, double value)
    {
        BinaryPrimitives.WriteInt32BigEndian(span[at..], 8);
        BinaryPrimitives.WriteDoubleBigEndian(span[(at + 4)..], value);
        return at + 12;
    }

    private static int Float32OrNull(Span<byte> span, int at, float value)
    {
        if (float.IsNaN(value))
        {
            return Null(span, at);
        }

        BinaryPrimitives.WriteInt32BigEndian(span[at..], 4);
        BinaryPrimitives.WriteSingleBigEndian(span[(at + 4)..], value);
        return at + 8;
    }

    private static int Int16OrNull(Span<byte> span, int at, short value)
    {
        if (value < 0)
        {
            return Null(span, at);
        }

        BinaryPrimitives.WriteInt32BigEndian(span[at..], 2);
        BinaryPrimitives.WriteInt16BigEndian(span[(at + 4)..], value);
        return at + 6;
    }
}
