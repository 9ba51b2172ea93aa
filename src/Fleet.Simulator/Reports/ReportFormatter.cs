using System.Buffers.Text;

namespace Fleet.Simulator.Reports;

/// <summary>One terminal report (protocol v1 fields) before it is written.</summary>
public readonly record struct TelemetrySample(
    long Ts,
    uint Seq,
    double Lat,
    double Lon,
    double Spd,
    int Hdg,
    double Alt,
    bool Acc,
    double Odo,
    double Energy,
    bool Electric,
    int Sats,
    double Hdop,
    uint Alarm);

/// <summary>
/// Writes reports as protocol v1 JSON straight into a byte span: fixed fragments are UTF-8 literals and numbers are
/// written as scaled integers with <see cref="Utf8Formatter"/>. No serializer, no strings, no allocation per report.
/// </summary>
public static class ReportFormatter
{
    /// <summary>Ample for one report (a typical one is ~150 bytes).</summary>
    public const int MaxReportBytes = 256;

    /// <summary>Writes one report object; returns the bytes written. <paramref name="destination"/> needs <see cref="MaxReportBytes"/>.</summary>
    public static int Write(Span<byte> destination, in TelemetrySample sample)
    {
        var w = new SpanWriter(destination);
        w.Literal("{\"ts\":"u8);
        w.Integer(sample.Ts);
        w.Literal(",\"seq\":"u8);
        w.Integer(sample.Seq);
        w.Literal(",\"lat\":"u8);
        w.Fixed(sample.Lat, 6);
        w.Literal(",\"lon\":"u8);
        w.Fixed(sample.Lon, 6);
        w.Literal(",\"spd\":"u8);
        w.Fixed(sample.Spd, 1);
        w.Literal(",\"hdg\":"u8);
        w.Integer(sample.Hdg);
        w.Literal(",\"alt\":"u8);
        w.Fixed(sample.Alt, 0);
        w.Literal(sample.Acc ? ",\"acc\":true,\"odo\":"u8 : ",\"acc\":false,\"odo\":"u8);
        w.Fixed(sample.Odo, 2);
        w.Literal(sample.Electric ? ",\"soc\":"u8 : ",\"fuel\":"u8);
        w.Fixed(sample.Energy, 1);
        w.Literal(",\"sats\":"u8);
        w.Integer(sample.Sats);
        w.Literal(",\"hdop\":"u8);
        w.Fixed(sample.Hdop, 1);
        if (sample.Alarm != 0)
        {
            // Left out when clear, as most terminals do; it keeps the common report small.
            w.Literal(",\"alarm\":"u8);
            w.Integer(sample.Alarm);
        }

        w.Literal("}"u8);
        return w.Position;
    }

    private ref struct SpanWriter(Span<byte> destination)
    {
        private static readonly long[] Powers = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

        private readonly Span<byte> _destination = destination;

        public int Position { get; private set; }

        public void Literal(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_destination[Position..]);
            Position += bytes.Length;
        }

        public void Integer(long value)
        {
            if (!Utf8Formatter.TryFormat(value, _destination[Position..], out var written))
            {
                throw new ArgumentException("The report buffer is too small.");
            }

            Position += written;
        }

        /// <summary>A fixed-point number, rounded to <paramref name="decimals"/> places, without exponent or trailing garbage.</summary>
        public void Fixed(double value, int decimals)
        {
            var scale = Powers[decimals];
            var scaled = (long)Math.Round(value * scale, MidpointRounding.AwayFromZero);
            if (scaled < 0)
            {
                _destination[Position++] = (byte)'-';
                scaled = -scaled;
            }

            Integer(scaled / scale);
            if (decimals == 0)
            {
                return;
            }

            _destination[Position++] = (byte)'.';
            if (!Utf8Formatter.TryFormat(scaled % scale, _destination[Position..], out var written, new System.Buffers.StandardFormat('D', (byte)decimals)))
            {
                throw new ArgumentException("The report buffer is too small.");
            }

            Position += written;
        }
    }
}
