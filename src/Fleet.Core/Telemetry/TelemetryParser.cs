using System.Text.Json;
using System.Text.Unicode;

namespace Fleet.Core.Telemetry;

/// <summary>
/// Parses and validates a terminal payload: one JSON object, or an array of them (a store-and-forward backlog).
/// Each report is accepted or rejected on its own; a payload that is not valid JSON is rejected whole, so a
/// truncated backlog never half-lands. Allocates nothing: fixes go into the caller's span, rejects into the
/// caller's reusable list.
/// </summary>
public static class TelemetryParser
{
    private const int MaxDepth = 16;

    // The longest field name ("alarm") with every character escaped as \uXXXX. A longer raw name cannot unescape to a
    // field name; one this long or shorter must be unescaped, or "\u0073\u0070\u0064":400 would slip past as unknown.
    private const int MaxEscapedNameBytes = 5 * 6;

    /// <summary>Parses <paramref name="payload"/>; returns how many fixes were written to <paramref name="fixes"/>.</summary>
    /// <param name="nowMs">The receive time in epoch ms, against which <c>ts</c> is checked.</param>
    /// <param name="fixes">Room for at least <see cref="TelemetryLimits.MaxReportsPerPayload"/> fixes.</param>
    /// <param name="rejects">Receives one entry per refused report; index -1 refuses the whole payload.</param>
    public static int Parse(ReadOnlySpan<byte> payload, long nowMs, Span<TelemetryFix> fixes, List<TelemetryReject> rejects, TelemetryLimits? limits = null)
    {
        limits ??= TelemetryLimits.Default;
        if (fixes.Length < limits.MaxReportsPerPayload)
        {
            throw new ArgumentException($"The fix buffer must hold {limits.MaxReportsPerPayload} reports.", nameof(fixes));
        }

        if (payload.Length > limits.MaxPayloadBytes)
        {
            rejects.Add(new TelemetryReject(-1, TelemetryRejectReason.PayloadTooLarge));
            return 0;
        }

        // Strings we keep (the obd object) go into jsonb later; refuse invalid UTF-8 here, not at COPY time.
        if (!Utf8.IsValid(payload))
        {
            rejects.Add(new TelemetryReject(-1, TelemetryRejectReason.MalformedJson, "utf8"));
            return 0;
        }

        var rejectsBefore = rejects.Count;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = MaxDepth });
            var count = ParseRoot(ref reader, nowMs, fixes, rejects, limits);
            if (reader.Read())
            {
                throw new JsonException("Trailing content after the payload.");
            }

            return count;
        }
        catch (JsonException)
        {
            rejects.RemoveRange(rejectsBefore, rejects.Count - rejectsBefore);
            rejects.Add(new TelemetryReject(-1, TelemetryRejectReason.MalformedJson));
            return 0;
        }
    }

    private static int ParseRoot(ref Utf8JsonReader reader, long nowMs, Span<TelemetryFix> fixes, List<TelemetryReject> rejects, TelemetryLimits limits)
    {
        if (!reader.Read())
        {
            throw new JsonException("Empty payload.");
        }

        if (reader.TokenType == JsonTokenType.StartObject)
        {
            return AddFix(ref reader, 0, nowMs, fixes, 0, rejects, limits);
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            rejects.Add(new TelemetryReject(-1, TelemetryRejectReason.NotAnObject));
            return 0;
        }

        var count = 0;
        var index = 0;
        var rejectsBefore = rejects.Count;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (index == limits.MaxReportsPerPayload)
            {
                // Drain the rest so malformed JSON further on is still reported as such.
                while (reader.TokenType != JsonTokenType.EndArray || reader.CurrentDepth != 0)
                {
                    reader.Skip();
                    reader.Read();
                }

                rejects.RemoveRange(rejectsBefore, rejects.Count - rejectsBefore);
                rejects.Add(new TelemetryReject(-1, TelemetryRejectReason.TooManyReports));
                return 0;
            }

            if (reader.TokenType == JsonTokenType.StartObject)
            {
                count = AddFix(ref reader, index, nowMs, fixes, count, rejects, limits);
            }
            else
            {
                reader.Skip();
                rejects.Add(new TelemetryReject(index, TelemetryRejectReason.NotAnObject));
            }

            index++;
        }

        return count;
    }

    private static int AddFix(ref Utf8JsonReader reader, int index, long nowMs, Span<TelemetryFix> fixes, int count, List<TelemetryReject> rejects, TelemetryLimits limits)
    {
        var reject = ReadFix(ref reader, nowMs, limits, out var fix);
        if (reject.Reason == TelemetryRejectReason.None)
        {
            fixes[count] = fix;
            return count + 1;
        }

        rejects.Add(reject with { Index = index });
        return count;
    }

    /// <summary>Reads one report object (the reader is on its StartObject) to its end, then validates it.</summary>
    private static TelemetryReject ReadFix(ref Utf8JsonReader reader, long nowMs, TelemetryLimits limits, out TelemetryFix fix)
    {
        long? ts = null;
        double lat = double.NaN, lon = double.NaN, odo = double.NaN;
        float spd = float.NaN, alt = float.NaN, fuel = float.NaN, soc = float.NaN, hdop = float.NaN;
        short hdg = -1, sats = -1;
        uint seq = 0, alarm = 0;
        bool? acc = null;
        Range obd = default;
        string? invalid = null;
        var speedOutOfRange = false;

        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var field = Identify(ref reader);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null)
            {
                continue; // null means absent, for every field.
            }

            var ok = true;
            switch (field)
            {
                case Field.Ts:
                    long t = 0;
                    ok = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out t);
                    ts = ok ? t : null;
                    break;
                case Field.Seq:
                    ok = reader.TokenType == JsonTokenType.Number && reader.TryGetUInt32(out seq);
                    break;
                case Field.Lat:
                    ok = TryReadFinite(ref reader, out lat);
                    break;
                case Field.Lon:
                    ok = TryReadFinite(ref reader, out lon);
                    break;
                case Field.Spd:
                    ok = TryReadFinite(ref reader, out var s);
                    spd = (float)s;
                    speedOutOfRange = ok && (s < 0 || s > limits.MaxSpeedKmh);
                    break;
                case Field.Hdg:
                    ok = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var h) && h is >= 0 and <= 359;
                    hdg = ok ? (short)reader.GetInt32() : (short)-1;
                    break;
                case Field.Alt:
                    ok = TryReadFinite(ref reader, out var a) && Math.Abs(a) <= 100_000;
                    alt = (float)a;
                    break;
                case Field.Acc:
                    ok = reader.TokenType is JsonTokenType.True or JsonTokenType.False;
                    acc = ok ? reader.GetBoolean() : null;
                    break;
                case Field.Odo:
                    ok = TryReadFinite(ref reader, out odo) && odo >= 0;
                    break;
                case Field.Fuel:
                    ok = TryReadPercent(ref reader, out fuel);
                    break;
                case Field.Soc:
                    ok = TryReadPercent(ref reader, out soc);
                    break;
                case Field.Sats:
                    ok = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var st) && st is >= 0 and <= 255;
                    sats = ok ? (short)reader.GetInt32() : (short)-1;
                    break;
                case Field.Hdop:
                    // Stored as real: 1e300 is a finite double but would become an infinite float.
                    ok = TryReadFinite(ref reader, out var d) && d is >= 0 and <= float.MaxValue;
                    hdop = (float)d;
                    break;
                case Field.Alarm:
                    ok = reader.TokenType == JsonTokenType.Number && reader.TryGetUInt32(out alarm);
                    break;
                case Field.Obd:
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        var start = (int)reader.TokenStartIndex;
                        ok = ReadStorableObject(ref reader);
                        obd = ok ? new Range(start, (int)reader.BytesConsumed) : default;
                    }
                    else
                    {
                        ok = false;
                    }

                    break;
                default:
                    break; // Unknown fields are ignored so terminals can add fields without breaking v1.
            }

            if (!ok)
            {
                invalid ??= FieldName(field);
            }

            // Skip whatever value was not consumed (an object or array under an unknown or invalid field).
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        fix = default;
        if (ts is null && invalid != "ts")
        {
            return new TelemetryReject(0, TelemetryRejectReason.MissingTimestamp, "ts");
        }

        if (invalid is "lat" or "lon")
        {
            return new TelemetryReject(0, TelemetryRejectReason.InvalidPosition, invalid);
        }

        if (invalid is not null)
        {
            return new TelemetryReject(0, TelemetryRejectReason.InvalidField, invalid);
        }

        if (double.IsNaN(lat) || double.IsNaN(lon))
        {
            return new TelemetryReject(0, TelemetryRejectReason.MissingPosition, double.IsNaN(lat) ? "lat" : "lon");
        }

        if (lat is < -90 or > 90 || lon is < -180 or > 180)
        {
            return new TelemetryReject(0, TelemetryRejectReason.InvalidPosition, lat is < -90 or > 90 ? "lat" : "lon");
        }

        if (speedOutOfRange)
        {
            return new TelemetryReject(0, TelemetryRejectReason.SpeedOutOfRange, "spd");
        }

        if (ts!.Value > nowMs + (long)limits.MaxClockAhead.TotalMilliseconds)
        {
            return new TelemetryReject(0, TelemetryRejectReason.TimestampInFuture, "ts");
        }

        if (ts.Value < nowMs - (long)limits.MaxAge.TotalMilliseconds)
        {
            return new TelemetryReject(0, TelemetryRejectReason.TimestampTooOld, "ts");
        }

        fix = new TelemetryFix
        {
            Ts = ts.Value,
            Seq = seq,
            Lat = lat,
            Lon = lon,
            Spd = spd,
            Hdg = hdg,
            Alt = alt,
            Acc = acc,
            Odo = odo,
            Fuel = fuel,
            Soc = soc,
            Sats = sats,
            Hdop = hdop,
            Alarm = alarm,
            Obd = obd,
        };
        return default;
    }

    private enum Field : byte
    {
        Unknown,
        Ts,
        Seq,
        Lat,
        Lon,
        Spd,
        Hdg,
        Alt,
        Acc,
        Odo,
        Fuel,
        Soc,
        Sats,
        Hdop,
        Alarm,
        Obd,
    }

    /// <summary>Which protocol field the current property name is; escaped names are unescaped first.</summary>
    private static Field Identify(ref Utf8JsonReader reader)
    {
        Span<byte> buffer = stackalloc byte[MaxEscapedNameBytes];
        scoped ReadOnlySpan<byte> name;
        if (!reader.ValueIsEscaped)
        {
            name = reader.ValueSpan;
        }
        else if (reader.ValueSpan.Length <= buffer.Length)
        {
            // An escaped name is never shorter than its unescaped form, so this bound makes CopyString safe.
            name = buffer[..reader.CopyString(buffer)];
        }
        else
        {
            return Field.Unknown;
        }

        return name switch
        {
            _ when name.SequenceEqual("ts"u8) => Field.Ts,
            _ when name.SequenceEqual("seq"u8) => Field.Seq,
            _ when name.SequenceEqual("lat"u8) => Field.Lat,
            _ when name.SequenceEqual("lon"u8) => Field.Lon,
            _ when name.SequenceEqual("spd"u8) => Field.Spd,
            _ when name.SequenceEqual("hdg"u8) => Field.Hdg,
            _ when name.SequenceEqual("alt"u8) => Field.Alt,
            _ when name.SequenceEqual("acc"u8) => Field.Acc,
            _ when name.SequenceEqual("odo"u8) => Field.Odo,
            _ when name.SequenceEqual("fuel"u8) => Field.Fuel,
            _ when name.SequenceEqual("soc"u8) => Field.Soc,
            _ when name.SequenceEqual("sats"u8) => Field.Sats,
            _ when name.SequenceEqual("hdop"u8) => Field.Hdop,
            _ when name.SequenceEqual("alarm"u8) => Field.Alarm,
            _ when name.SequenceEqual("obd"u8) => Field.Obd,
            _ => Field.Unknown,
        };
    }

    // PostgreSQL's numeric (behind jsonb numbers) keeps at most this many digits after the decimal point.
    private const int MaxJsonbScale = 16383;

    /// <summary>
    /// Reads an object (the reader is on its StartObject) to its EndObject, and says whether jsonb can hold all of
    /// it. The payload is already valid UTF-8 and valid JSON, yet PostgreSQL refuses <c>\u0000</c> (22P05), a lone
    /// surrogate escape (22P02) and numbers beyond its numeric range (22003); such a row would fail its COPY on
    /// every redelivery, so it is refused here. Reads the raw tokens only, so nothing is allocated.
    /// </summary>
    private static bool ReadStorableObject(ref Utf8JsonReader reader)
    {
        var depth = reader.CurrentDepth;
        var ok = true;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            // Keep reading after a bad token: the caller expects the reader past the object's end.
            ok &= reader.TokenType switch
            {
                JsonTokenType.PropertyName or JsonTokenType.String => !reader.ValueIsEscaped || IsStorableEscapedString(reader.ValueSpan),
                JsonTokenType.Number => IsStorableNumber(ref reader),
                _ => true,
            };
        }

        return ok;
    }

    /// <summary>
    /// Scans the raw escapes of a string (the reader has checked their syntax): no <c>\u0000</c>, and every
    /// <c>\uD800</c>–<c>\uDBFF</c> followed by a <c>\uDC00</c>–<c>\uDFFF</c>, which appears nowhere else.
    /// Raw bytes need no check: the reader refuses control characters and the payload is valid UTF-8.
    /// </summary>
    private static bool IsStorableEscapedString(ReadOnlySpan<byte> raw)
    {
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                continue;
            }

            i++; // The escaped character; only \u carries a code unit.
            if (raw[i] != (byte)'u')
            {
                continue;
            }

            var unit = HexUnit(raw.Slice(i + 1, 4));
            i += 4;
            if (unit == 0 || unit is >= 0xDC00 and <= 0xDFFF)
            {
                return false;
            }

            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                if (i + 6 >= raw.Length || raw[i + 1] != (byte)'\\' || raw[i + 2] != (byte)'u' || HexUnit(raw.Slice(i + 3, 4)) is < 0xDC00 or > 0xDFFF)
                {
                    return false;
                }

                i += 6;
            }
        }

        return true;
    }

    private static int HexUnit(ReadOnlySpan<byte> hex)
    {
        var value = 0;
        foreach (var b in hex)
        {
            value = (value << 4) | (b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
        }

        return value;
    }

    /// <summary>
    /// Finite as a double (bounds the magnitude), and with a scale numeric can keep: <c>1e-20000</c> reads as 0 but
    /// PostgreSQL still refuses it. Scale is the digits after the point minus the exponent.
    /// </summary>
    private static bool IsStorableNumber(ref Utf8JsonReader reader)
    {
        if (!reader.TryGetDouble(out var value) || !double.IsFinite(value))
        {
            return false;
        }

        var raw = reader.ValueSpan; // Numbers are never escaped.
        var point = raw.IndexOf((byte)'.');
        var e = raw.IndexOfAny((byte)'e', (byte)'E');
        var fraction = point < 0 ? 0 : (e < 0 ? raw.Length : e) - point - 1;
        var exponent = 0L;
        if (e >= 0)
        {
            var digits = raw[(e + 1)..];
            var negative = digits[0] == '-';
            if (digits[0] is (byte)'-' or (byte)'+')
            {
                digits = digits[1..];
            }

            foreach (var d in digits)
            {
                // Saturate: a finite double bounds the positive side, and any huge negative one is refused anyway.
                exponent = Math.Min(exponent * 10 + (d - '0'), int.MaxValue);
            }

            exponent = negative ? -exponent : exponent;
        }

        return fraction - exponent <= MaxJsonbScale;
    }

    private static bool TryReadFinite(ref Utf8JsonReader reader, out double value)
    {
        value = double.NaN;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out value) && double.IsFinite(value);
    }

    private static bool TryReadPercent(ref Utf8JsonReader reader, out float value)
    {
        var ok = TryReadFinite(ref reader, out var d) && d is >= 0 and <= 100;
        value = ok ? (float)d : float.NaN;
        return ok;
    }

    // Literal names, so a reject allocates no string.
    private static string FieldName(Field field) => field switch
    {
        Field.Ts => "ts",
        Field.Seq => "seq",
        Field.Lat => "lat",
        Field.Lon => "lon",
        Field.Spd => "spd",
        Field.Hdg => "hdg",
        Field.Alt => "alt",
        Field.Acc => "acc",
        Field.Odo => "odo",
        Field.Fuel => "fuel",
        Field.Soc => "soc",
        Field.Sats => "sats",
        Field.Hdop => "hdop",
        Field.Alarm => "alarm",
        Field.Obd => "obd",
        _ => "?",
    };
}
