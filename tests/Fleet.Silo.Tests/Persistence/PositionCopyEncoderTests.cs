using System.Text;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;

namespace Fleet.Silo.Tests.Persistence;

/// <summary>
/// Exact bytes of the binary COPY encoding. Every expected value below is worked out by hand from the PostgreSQL
/// docs (COPY "Binary Format", and the send functions of each type), not from the encoder.
/// </summary>
public sealed class PositionCopyEncoderTests
{
    // 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp epoch, in Unix milliseconds.
    private const long Y2000Ms = 946_684_800_000;

    private static byte[] Hex(string spaced) => Convert.FromHexString(spaced.Replace(" ", string.Empty, StringComparison.Ordinal));

    [Fact]
    public void The_header_is_the_signature_then_zero_flags_and_zero_extension_length()
    {
        using var encoder = new PositionCopyEncoder();

        encoder.WriteHeader();

        // "PGCOPY" 0A FF 0D 0A 00 | flags int32 0 | header extension length int32 0
        Assert.Equal(Hex("50 47 43 4F 50 59 0A FF 0D 0A 00  00 00 00 00  00 00 00 00"), encoder.Written.ToArray());
    }

    [Fact]
    public void The_trailer_is_int16_minus_one()
    {
        using var encoder = new PositionCopyEncoder();

        encoder.WriteTrailer();

        Assert.Equal(Hex("FF FF"), encoder.Written.ToArray());
    }

    [Fact]
    public void A_row_with_every_field_set_encodes_each_value_big_endian_with_its_length()
    {
        using var encoder = new PositionCopyEncoder();
        var row = new PositionRow(
            7,
            new TelemetryFix
            {
                Ts = Y2000Ms + 1500, // 1.5 s after 2000-01-01 = 1,500,000 µs = 0x16E360
                Seq = uint.MaxValue,
                Lat = 1.5,
                Lon = -2,
                Spd = 1.5f,
                Hdg = 270,
                Alt = -2f,
                Acc = true,
                Odo = 0.25,
                Fuel = 0.25f,
                Soc = 100f,
                Sats = 0,
                Hdop = 0.5f,
                Alarm = uint.MaxValue,
            },
            Y2000Ms - 1000, // 1 s before 2000-01-01 = -1,000,000 µs
            Encoding.UTF8.GetBytes("""{"a":"中"}"""));

        encoder.WriteRow(row);

        var expected = Hex(
            "00 11"                                        // 17 fields
            + "00 00 00 08  00 00 00 00 00 00 00 07"      // vehicle_id bigint 7
            + "00 00 00 08  00 00 00 00 00 16 E3 60"      // ts: 1,500,000 µs
            + "00 00 00 08  FF FF FF FF FF F0 BD C0"      // received_at: -1,000,000 µs
            + "00 00 00 08  00 00 00 00 FF FF FF FF"      // seq bigint 4294967295
            + "00 00 00 08  3F F8 00 00 00 00 00 00"      // lat double 1.5
            + "00 00 00 08  C0 00 00 00 00 00 00 00"      // lon double -2
            + "00 00 00 04  3F C0 00 00"                  // spd real 1.5
            + "00 00 00 02  01 0E"                        // hdg smallint 270
            + "00 00 00 04  C0 00 00 00"                  // alt real -2
            + "00 00 00 01  01"                           // acc true
            + "00 00 00 08  3F D0 00 00 00 00 00 00"      // odo double 0.25
            + "00 00 00 04  3E 80 00 00"                  // fuel real 0.25
            + "00 00 00 04  42 C8 00 00"                  // soc real 100
            + "00 00 00 02  00 00"                        // sats smallint 0 (present, not NULL)
            + "00 00 00 04  3F 00 00 00"                  // hdop real 0.5
            + "00 00 00 08  00 00 00 00 FF FF FF FF"      // alarm bigint 4294967295
            + "00 00 00 0C  01 7B 22 61 22 3A 22 E4 B8 AD 22 7D"); // obd jsonb: version 1, {"a":"中"} (中 = E4 B8 AD)
        Assert.Equal(expected, encoder.Written.ToArray());
    }

    [Fact]
    public void A_row_with_every_optional_field_absent_encodes_them_as_null()
    {
        using var encoder = new PositionCopyEncoder();
        var row = new PositionRow(
            1,
            new TelemetryFix { Ts = Y2000Ms, Lat = 0, Lon = 0, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = -1, Hdop = float.NaN },
            Y2000Ms,
            ReadOnlyMemory<byte>.Empty);

        encoder.WriteRow(row);

        const string Null = "FF FF FF FF";
        var expected = Hex(
            "00 11"
            + "00 00 00 08  00 00 00 00 00 00 00 01"      // vehicle_id 1
            + "00 00 00 08  00 00 00 00 00 00 00 00"      // ts: the PostgreSQL epoch itself
            + "00 00 00 08  00 00 00 00 00 00 00 00"      // received_at: likewise
            + "00 00 00 08  00 00 00 00 00 00 00 00"      // seq 0
            + "00 00 00 08  00 00 00 00 00 00 00 00"      // lat 0.0
            + "00 00 00 08  00 00 00 00 00 00 00 00"      // lon 0.0
            + Null                                         // spd NaN
            + Null                                         // hdg -1
            + Null                                         // alt NaN
            + Null                                         // acc null
            + Null                                         // odo NaN
            + Null                                         // fuel NaN
            + Null                                         // soc NaN
            + Null                                         // sats -1
            + Null                                         // hdop NaN
            + "00 00 00 08  00 00 00 00 00 00 00 00"      // alarm 0 (never NULL)
            + Null);                                       // obd empty
        Assert.Equal(expected, encoder.Written.ToArray());
    }

    [Fact]
    public void Ignition_off_is_a_one_byte_zero_not_null()
    {
        using var encoder = new PositionCopyEncoder();
        var fix = new TelemetryFix { Ts = Y2000Ms, Lat = 0, Lon = 0, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Acc = false, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = -1, Hdop = float.NaN };

        encoder.WriteRow(new PositionRow(1, fix, Y2000Ms, default));

        // acc is the 10th field: after the count (2), six 12-byte fields (72), spd/hdg/alt NULL (12).
        Assert.Equal(Hex("00 00 00 01 00"), encoder.Written.Span.Slice(2 + 72 + 12, 5).ToArray());
    }

    [Fact]
    public void Rows_append_after_each_other_and_clear_starts_over_on_the_same_buffer()
    {
        using var encoder = new PositionCopyEncoder();
        var fix = new TelemetryFix { Ts = Y2000Ms, Lat = 0, Lon = 0, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = -1, Hdop = float.NaN };
        encoder.WriteRow(new PositionRow(1, fix, Y2000Ms, default));
        var one = encoder.Written.ToArray();

        encoder.WriteRow(new PositionRow(1, fix, Y2000Ms, default));
        Assert.Equal([.. one, .. one], encoder.Written.ToArray());

        encoder.Clear();
        Assert.Equal(0, encoder.Length);
        encoder.WriteRow(new PositionRow(1, fix, Y2000Ms, default));
        Assert.Equal(one, encoder.Written.ToArray());
    }

    [Fact]
    public void A_row_larger_than_the_flush_threshold_is_encoded_whole()
    {
        using var encoder = new PositionCopyEncoder();
        encoder.WriteHeader();
        var text = "{\"note\":\"" + new string('蒙', 40_000) + "\"}"; // 120,011 UTF-8 bytes, past the 64 KiB buffer
        var obd = Encoding.UTF8.GetBytes(text);
        var fix = new TelemetryFix { Ts = Y2000Ms, Lat = 0, Lon = 0, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = -1, Hdop = float.NaN };

        encoder.WriteRow(new PositionRow(1, fix, Y2000Ms, obd));

        var written = encoder.Written.Span;
        var obdField = written[^(4 + 1 + obd.Length)..];
        Assert.Equal(Hex("50 47 43 4F 50 59 0A FF 0D 0A 00"), written[..11].ToArray());
        Assert.Equal(1 + obd.Length, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(obdField));
        Assert.Equal(1, obdField[4]);
        Assert.Equal(text, Encoding.UTF8.GetString(obdField[5..]));
    }

    [Theory]
    [InlineData(0L, -946_684_800_000_000L)]                 // 1970-01-01: 10,957 days before 2000-01-01
    [InlineData(946_684_800_001L, 1_000L)]                  // 1 ms after the PostgreSQL epoch
    [InlineData(221_859_693_296_789L, 220_913_008_496_789_000L)] // 9000-06-15 12:34:56.789 UTC
    public void Epoch_milliseconds_become_microseconds_since_2000(long epochMs, long expectedMicroseconds)
    {
        Assert.Equal(expectedMicroseconds, PositionCopyEncoder.ToPostgresMicroseconds(epochMs));
    }
}
