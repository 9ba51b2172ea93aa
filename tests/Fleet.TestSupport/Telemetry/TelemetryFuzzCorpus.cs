using System.Globalization;
using System.Text;
using Fleet.Core.Telemetry;

namespace Fleet.TestSupport.Telemetry;

/// <summary>What a fuzzed payload was made by; a failure message names it with the index so it can be regenerated.</summary>
public enum TelemetryFuzzKind
{
    Valid,
    Backlog,
    WrongType,
    NonFinite,
    HugeNumber,
    LongInteger,
    Boundary,
    DeepNesting,
    InvalidUtf8,
    HugeString,
    Truncated,
    DuplicateKey,
    EscapedName,
    ByteFlip,
    MissingField,
    ExtraField,
    Structure,
}

/// <summary>One generated payload; <see cref="Index"/> with the corpus seed regenerates it exactly.</summary>
public sealed record TelemetryFuzzPayload(int Index, TelemetryFuzzKind Kind, string Detail, byte[] Bytes)
{
    public override string ToString() => $"#{Index} {Kind} ({Detail}), {Bytes.Length} bytes";
}

/// <summary>
/// A deterministic corpus of mutated terminal protocol v1 payloads. Payload <c>i</c> depends only on the seed, the
/// corpus "now" and <c>i</c> (its own <see cref="Random"/>), so any one can be regenerated from a failure message and
/// a consumer can stream the corpus without holding it. Each starts from valid reports around <see cref="NowMs"/>
/// and is then broken one way: wrong JSON types, NaN/Infinity, huge and tiny numbers, 400-digit integers, boundary
/// values, 10,000-level nesting, invalid UTF-8, 1 MB strings, truncation, duplicated and escaped keys, bit flips,
/// missing and extra fields, and odd top-level shapes.
/// <para>
/// Every report element <c>k</c> of payload <c>i</c> starts with its own <c>seq = 16 i + k + 1</c> and its own
/// <c>ts</c>, so two payloads only share a (ts, seq) key when a mutation made them. Timestamps near the protocol's
/// window edges stay <see cref="EdgeMarginMs"/> inside or outside it, so a consumer that parses later than
/// <see cref="NowMs"/> (by less than the margin) reaches the same verdict; a payload whose random mutation put a
/// timestamp within the margin of an edge anyway is generated again (see <see cref="Create(int)"/>).
/// </para>
/// </summary>
public sealed class TelemetryFuzzCorpus
{
    /// <summary>The issue's figure: 100,000 mutated payloads.</summary>
    public const int DefaultCount = 100_000;

    /// <summary>One payload in this many carries a 1 MB string (kept rare: each costs a megabyte to generate and send).</summary>
    public const int MegabyteStringEvery = 5_000;

    private const int ReportsPerPayloadStride = 16;

    // Cumulative weights per kind (out of 1000), in enum order from Valid.
    private static readonly (TelemetryFuzzKind Kind, int Weight)[] Weights =
    [
        (TelemetryFuzzKind.Valid, 80),
        (TelemetryFuzzKind.Backlog, 60),
        (TelemetryFuzzKind.WrongType, 90),
        (TelemetryFuzzKind.NonFinite, 50),
        (TelemetryFuzzKind.HugeNumber, 70),
        (TelemetryFuzzKind.LongInteger, 40),
        (TelemetryFuzzKind.Boundary, 100),
        (TelemetryFuzzKind.DeepNesting, 5),
        (TelemetryFuzzKind.InvalidUtf8, 60),
        (TelemetryFuzzKind.HugeString, 3),
        (TelemetryFuzzKind.Truncated, 70),
        (TelemetryFuzzKind.DuplicateKey, 70),
        (TelemetryFuzzKind.EscapedName, 70),
        (TelemetryFuzzKind.ByteFlip, 107),
        (TelemetryFuzzKind.MissingField, 45),
        (TelemetryFuzzKind.ExtraField, 50),
        (TelemetryFuzzKind.Structure, 30),
    ];

    private static readonly string[] FieldNames = ["ts", "seq", "lat", "lon", "spd", "hdg", "alt", "acc", "odo", "fuel", "soc", "sats", "hdop", "alarm", "obd"];

    private static readonly string[] WrongTypes =
        ["\"1\"", "\"40.84\"", "true", "false", "[]", "{}", "[1]", "{\"v\":1}", "\"\"", "\"NaN\"", "\"Infinity\"", "1.5", "-1", "0", "1e2", "null"];

    private static readonly string[] NonFinites =
        ["NaN", "-NaN", "Infinity", "-Infinity", "+Infinity", "nan", "inf", "\"NaN\"", "\"-Infinity\"", "1e309", "-1e309"];

    private static readonly string[] HugeNumbers =
    [
        "1e309", "-1e309", "1e308", "-1e308", "1.7976931348623157e308", "1.7976931348623159e308", "3.4028234e38", "3.5e38",
        "-3.5e38", "1e39", "4.9e-324", "2e-324", "1e-400", "1e-20000", "1E+308", "-0", "-0.0", "0e0", "1e2147483648",
        "1e-2147483649", "123456789012345678901234567890.5", "0.1e1", "1.0E-5",
    ];

    // A stray byte, an overlong NUL, a lone continuation, a cut 3-byte sequence, an encoded surrogate, beyond U+10FFFF,
    // a 5-byte form, a cut 2-byte sequence, and bytes UTF-8 never uses.
    private static readonly byte[][] InvalidUtf8Sequences =
        [[0xFF], [0xC0, 0x80], [0x80], [0xE4, 0xB8], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3], [0xFE, 0xFF]];

    private readonly int _seed;
    private readonly long _maxClockAheadMs;
    private readonly long _maxAgeMs;
    private readonly int _maxPayloadBytes;
    private readonly int _maxReports;
    private readonly TelemetryLimits _limits;

    /// <param name="seed">Fixes the corpus; print it with any failure.</param>
    /// <param name="nowMs">The receive time the reports are made valid for (epoch ms).</param>
    /// <param name="edgeMarginMs">How far window-edge timestamps sit from the edge (1 ms for a parser with a fixed clock).</param>
    public TelemetryFuzzCorpus(int seed, long nowMs, long edgeMarginMs = 1, TelemetryLimits? limits = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(edgeMarginMs, 1);
        limits ??= TelemetryLimits.Default;
        _seed = seed;
        NowMs = nowMs;
        EdgeMarginMs = edgeMarginMs;
        _maxClockAheadMs = (long)limits.MaxClockAhead.TotalMilliseconds;
        _maxAgeMs = (long)limits.MaxAge.TotalMilliseconds;
        _maxPayloadBytes = limits.MaxPayloadBytes;
        _maxReports = limits.MaxReportsPerPayload;
        _limits = limits;
    }

    public long NowMs { get; }

    public long EdgeMarginMs { get; }

    /// <summary>Payloads <paramref name="start"/> .. <paramref name="start"/> + <paramref name="count"/> - 1, generated as enumerated.</summary>
    public IEnumerable<TelemetryFuzzPayload> Generate(int count, int start = 0)
    {
        for (var i = start; i < start + count; i++)
        {
            yield return Create(i);
        }
    }

    /// <summary>Payload <paramref name="index"/> of this corpus.</summary>
    public TelemetryFuzzPayload Create(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);

        // A random mutation can land a timestamp right at a window edge too: a flipped ts digit moved one report 272 ms
        // past the future edge, and a gateway parsing a second later accepted it. The edge margin is a promise about
        // every payload, so one whose verdict would change within the margin is made again from another random draw.
        for (var attempt = 0; ; attempt++)
        {
            var payload = Make(index, attempt);
            if (EdgeMarginMs == 1 || HasSameVerdictThroughMargin(payload.Bytes))
            {
                return payload;
            }
        }
    }

    private TelemetryFuzzPayload Make(int index, int attempt)
    {
        // Attempt 0 is the payload as first generated; later attempts are rare and draw from another stream.
        var random = new Random(unchecked((_seed * 1_000_003) + index + (attempt * 1_000_000_007)));
        var generator = new Generator(this, random, index);
        if (index % MegabyteStringEvery == MegabyteStringEvery - 1)
        {
            var (detail, bytes) = generator.MegabyteString();
            return new TelemetryFuzzPayload(index, TelemetryFuzzKind.HugeString, detail, bytes);
        }

        var kind = PickKind(random);
        var (text, raw) = generator.Make(kind);
        return new TelemetryFuzzPayload(index, kind, text, raw);
    }

    /// <summary>
    /// Whether parsing at <see cref="NowMs"/> and at the last instant within the margin gives the same verdict. Each
    /// report's verdict changes at most once over the margin (it is far shorter than the window), so the two ends suffice.
    /// </summary>
    private bool HasSameVerdictThroughMargin(byte[] payload)
    {
        var check = _verdictCheck;
        if (check is null || check.Fixes.Length < _limits.MaxReportsPerPayload)
        {
            check = _verdictCheck = new VerdictCheck(_limits.MaxReportsPerPayload);
        }

        check.AtNow.Clear();
        check.AtMargin.Clear();
        var atNow = TelemetryParser.Parse(payload, NowMs, check.Fixes, check.AtNow, _limits);
        var atMargin = TelemetryParser.Parse(payload, NowMs + EdgeMarginMs - 1, check.Fixes, check.AtMargin, _limits);
        return atNow == atMargin && check.AtNow.SequenceEqual(check.AtMargin);
    }

    // Reused per thread: a fix buffer for the largest backlog would otherwise be allocated for every payload.
    [ThreadStatic]
    private static VerdictCheck? _verdictCheck;

    private sealed class VerdictCheck(int maxReports)
    {
        public TelemetryFix[] Fixes { get; } = new TelemetryFix[maxReports];

        public List<TelemetryReject> AtNow { get; } = [];

        public List<TelemetryReject> AtMargin { get; } = [];
    }

    private static TelemetryFuzzKind PickKind(Random random)
    {
        var total = 0;
        foreach (var (_, weight) in Weights)
        {
            total += weight;
        }

        var pick = random.Next(total);
        foreach (var (kind, weight) in Weights)
        {
            if (pick < weight)
            {
                return kind;
            }

            pick -= weight;
        }

        return TelemetryFuzzKind.Valid;
    }

    private static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>One report as raw JSON name/value pairs, so names and values can be broken independently.</summary>
    private sealed class Report
    {
        public List<(string Name, string Value)> Fields { get; } = [];

        public string ToJson()
        {
            var text = new StringBuilder("{");
            for (var i = 0; i < Fields.Count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                text.Append('"').Append(Fields[i].Name).Append("\":").Append(Fields[i].Value);
            }

            return text.Append('}').ToString();
        }
    }

    private sealed class Generator(TelemetryFuzzCorpus corpus, Random random, int index)
    {
        private int _nextReport;

        public (string Detail, byte[] Bytes) Make(TelemetryFuzzKind kind)
        {
            switch (kind)
            {
                case TelemetryFuzzKind.Valid:
                    return Text("valid", random.Next(8) == 0 ? Backlog(random.Next(1, 5), mutate: false) : ValidReport().ToJson());
                case TelemetryFuzzKind.Backlog:
                    return Text("backlog", Backlog(random.Next(2, 9), mutate: true));
                case TelemetryFuzzKind.DeepNesting:
                    return Text(DeepNesting(out var nesting), nesting);
                case TelemetryFuzzKind.InvalidUtf8:
                    return InvalidUtf8();
                case TelemetryFuzzKind.HugeString:
                    return Text(LargeString(out var large), large);
                case TelemetryFuzzKind.Truncated:
                {
                    var bytes = Utf8(random.Next(6) == 0 ? Backlog(random.Next(2, 5), mutate: false) : ValidReport().ToJson());
                    var cut = random.Next(bytes.Length);
                    return ($"cut at {cut} of {bytes.Length}", bytes[..cut]);
                }

                case TelemetryFuzzKind.ByteFlip:
                    return ByteFlip();
                case TelemetryFuzzKind.Structure:
                    return Text(Structure(out var structure), structure);
                default:
                {
                    var report = ValidReport();
                    var detail = Mutate(report, kind);
                    return Text(detail, report.ToJson());
                }
            }
        }

        public (string Detail, byte[] Bytes) MegabyteString()
        {
            var report = ValidReport();
            var field = random.Next(2) == 0 ? "note" : "obd";
            var value = Fill.Value[..1_000_000];
            report.Fields.Add((field, field == "obd" ? $"{{\"s\":\"{value}\"}}" : $"\"{value}\""));
            return ("1 MB string in " + field, Utf8(report.ToJson()));
        }

        private static (string, byte[]) Text(string detail, string json) => (detail, Utf8(json));

        private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

        private Report ValidReport()
        {
            var k = _nextReport++;
            var key = ((long)index * ReportsPerPayloadStride) + k;

            // Unique per (payload, element) and two minutes to a few hours old: valid whenever the payload is parsed
            // within the edge margin of the corpus "now".
            var ts = corpus.NowMs - 120_000 - (key * 3);
            var report = new Report();
            report.Fields.Add(("ts", Num(ts)));
            report.Fields.Add(("seq", Num(key + 1)));

            // Inner Mongolia, roughly.
            report.Fields.Add(("lat", Num(Math.Round(37.5 + (random.NextDouble() * 15), random.Next(1, 8)))));
            report.Fields.Add(("lon", Num(Math.Round(97.5 + (random.NextDouble() * 28), random.Next(1, 8)))));
            Maybe("spd", () => Num(random.Next(0, 1200) / 10.0));
            Maybe("hdg", () => Num(random.Next(360)));
            Maybe("alt", () => Num(random.Next(-1000, 30000) / 10.0));
            Maybe("acc", () => random.Next(2) == 0 ? "true" : "false");
            Maybe("odo", () => Num(random.Next(0, 50_000_000) / 10.0));
            Maybe(random.Next(2) == 0 ? "fuel" : "soc", () => Num(random.Next(0, 1001) / 10.0));
            Maybe("sats", () => Num(random.Next(0, 30)));
            Maybe("hdop", () => Num(random.Next(5, 100) / 10.0));
            Maybe("alarm", () => Num(random.Next(8) == 0 ? 256 : 0));
            if (random.Next(4) == 0)
            {
                report.Fields.Add(("obd", $"{{\"rpm\":{random.Next(600, 5000)},\"dtc\":[\"P0300\"],\"cool\":{random.Next(40, 110)},\"note\":\"发动机 ok \\u00e9\"}}"));
            }

            if (random.Next(3) == 0)
            {
                // Field order is not part of the protocol.
                Shuffle(report.Fields);
            }

            return report;

            void Maybe(string name, Func<string> value)
            {
                if (random.Next(10) < 7)
                {
                    report.Fields.Add((name, value()));
                }
            }
        }

        private void Shuffle(List<(string, string)> list)
        {
            for (var i = list.Count - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (list[i], list[j]) = (list[j], list[i]);
            }
        }

        private string Backlog(int count, bool mutate)
        {
            var text = new StringBuilder("[");
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                var report = ValidReport();
                if (mutate && random.Next(3) == 0)
                {
                    Mutate(report, (TelemetryFuzzKind)random.Next((int)TelemetryFuzzKind.WrongType, (int)TelemetryFuzzKind.Boundary + 1));
                }

                text.Append(report.ToJson());
            }

            return text.Append(']').ToString();
        }

        private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

        private int PickField(Report report) => random.Next(report.Fields.Count);

        /// <summary>Breaks one report in place, one way; returns what it did.</summary>
        private string Mutate(Report report, TelemetryFuzzKind kind)
        {
            var at = PickField(report);
            var name = report.Fields[at].Name;
            switch (kind)
            {
                case TelemetryFuzzKind.WrongType:
                {
                    var value = Pick(WrongTypes);
                    report.Fields[at] = (name, value);
                    return $"{name}={value}";
                }

                case TelemetryFuzzKind.NonFinite:
                {
                    var value = Pick(NonFinites);
                    report.Fields[at] = (name, value);
                    return $"{name}={value}";
                }

                case TelemetryFuzzKind.HugeNumber:
                {
                    var value = random.Next(5) == 0 ? "0." + new string('0', random.Next(300, 500)) + "1" : Pick(HugeNumbers);
                    report.Fields[at] = (name, value);
                    return $"{name}={Short(value)}";
                }

                case TelemetryFuzzKind.LongInteger:
                {
                    string[] values =
                    [
                        LongDigits(400), "-" + LongDigits(400), LongDigits(random.Next(10_000, 30_000)), LongDigits(random.Next(19, 40)), "18446744073709551616", "9223372036854775808",
                        "-9223372036854775809", "4294967296", "4294967295", "2147483648", "-1", "007", "1" + new string('0', 100),
                    ];
                    var value = Pick(values);
                    report.Fields[at] = (name, value);
                    return $"{name}={Short(value)}";
                }

                case TelemetryFuzzKind.Boundary:
                {
                    var field = Pick(FieldNames);
                    var value = Boundary(field);
                    Set(report, field, value);
                    return $"{field}={value}";
                }

                case TelemetryFuzzKind.DuplicateKey:
                {
                    var value = random.Next(4) switch
                    {
                        0 => report.Fields[at].Value,
                        1 => "null",
                        2 => Pick(WrongTypes),
                        _ => Boundary(name),
                    };
                    report.Fields.Insert(random.Next(report.Fields.Count + 1), (name, value));
                    return $"{name} twice, again {value}";
                }

                case TelemetryFuzzKind.EscapedName:
                {
                    var escaped = random.Next(6) switch
                    {
                        0 => EscapeAll(name),
                        1 => "\\u0000" + name,
                        2 => name + "\\u0000",
                        3 => name + "\\u00" + random.Next(0x20, 0x7F).ToString("x2", CultureInfo.InvariantCulture),
                        4 => EscapeAll(name) + string.Concat(Enumerable.Repeat("\\u0061", random.Next(1, 40))),
                        _ => EscapeSome(name),
                    };
                    report.Fields[at] = (escaped, report.Fields[at].Value);
                    return $"{name} as \"{escaped}\"";
                }

                case TelemetryFuzzKind.MissingField:
                {
                    report.Fields.RemoveAt(at);
                    return "without " + name;
                }

                case TelemetryFuzzKind.ExtraField:
                {
                    string[] names = ["note", "LAT", "Lat", "lat ", " lat", "ts2", "外", "\\ud83d\\ude00", "x" + new string('y', random.Next(1, 200)), "", "\\\""];
                    string[] values =
                    [
                        "{\"a\":[1,2,{\"b\":null}]}", "[[[[]]]]", "\"" + new string('z', random.Next(0, 2000)) + "\"", "1e309", "NaN", "-0", "\"\\u0000\"",
                        "\"\\ud800\"", "12345678901234567890123456789012345678901234567890", "\"中文字符串\"", "true", "null",
                    ];
                    var extra = (Pick(names), Pick(values));
                    report.Fields.Insert(random.Next(report.Fields.Count + 1), extra);
                    return $"extra \"{Short(extra.Item1)}\":{Short(extra.Item2)}";
                }

                default:
                    return "unchanged";
            }
        }

        private static void Set(Report report, string field, string value)
        {
            for (var i = 0; i < report.Fields.Count; i++)
            {
                if (report.Fields[i].Name == field)
                {
                    report.Fields[i] = (field, value);
                    return;
                }
            }

            report.Fields.Add((field, value));
        }

        private string Boundary(string field)
        {
            var now = corpus.NowMs;
            var margin = corpus.EdgeMarginMs;
            string[] values = field switch
            {
                "ts" =>
                [
                    Num(now + corpus._maxClockAheadMs - margin), Num(now + corpus._maxClockAheadMs + margin), Num(now - corpus._maxAgeMs + margin),
                    Num(now - corpus._maxAgeMs - margin), "0", "-1", Num(long.MaxValue), Num(long.MinValue), "1.7e12", Num(now) + ".0",
                ],
                "seq" or "alarm" => ["0", "4294967295", "4294967296", "-1", "1.0", "0.5"],
                "lat" => ["90", "-90", "90.0000001", "-90.0000001", "0", "-0", "89.99999999999999", "90.00000000000001"],
                "lon" => ["180", "-180", "180.0000001", "-180.0000001", "0", "-0", "179.99999999999997", "180.00000000000003"],
                "spd" => ["0", "300", "300.0001", "-0.0001", "-0", "299.99999999999994", "1e-320"],
                "hdg" => ["0", "359", "360", "-1", "359.0", "32767", "65536"],
                "alt" => ["100000", "-100000", "100000.1", "-100000.1", "1e5", "3.5e38"],
                "acc" => ["true", "false", "0", "1", "\"true\""],
                "odo" => ["0", "-0", "-0.001", "1.7976931348623157e308", "1e-320"],
                "fuel" or "soc" => ["0", "100", "100.001", "-0.01", "-0", "99.99999999999999"],
                "sats" => ["0", "255", "256", "-1", "32768"],
                "hdop" => ["0", "-0", "-0.1", "3.4028234e38", "3.4028236e38", "3.5e38", "1e308", "1e-46"],
                "obd" => ["{}", "[]", "\"{}\"", "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}", "{\"\\u0000\":1}", "{\"s\":\"\\udc00\"}", "{\"n\":1e-16383}", "{\"n\":1e-16384}"],
                _ => ["0"],
            };
            return Pick(values);
        }

        private string LongDigits(int count)
        {
            var text = new StringBuilder(count);
            text.Append((char)('1' + random.Next(9)));
            for (var i = 1; i < count; i++)
            {
                text.Append((char)('0' + random.Next(10)));
            }

            return text.ToString();
        }

        private static string EscapeAll(string name)
        {
            var text = new StringBuilder();
            foreach (var c in name)
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }

            return text.ToString();
        }

        private string EscapeSome(string name)
        {
            var text = new StringBuilder();
            foreach (var c in name)
            {
                if (random.Next(2) == 0)
                {
                    text.Append("\\u").Append(((int)c).ToString(random.Next(2) == 0 ? "X4" : "x4", CultureInfo.InvariantCulture));
                }
                else
                {
                    text.Append(c);
                }
            }

            return text.ToString();
        }

        private static string Short(string text) => text.Length <= 40 ? text : $"{text[..20]}…({text.Length} chars)";

        private string DeepNesting(out string json)
        {
            var depth = random.Next(3) == 0 ? random.Next(12, 20) : 10_000;
            var closed = random.Next(2) == 0;
            var inObject = random.Next(2) == 0;
            var open = inObject ? "{\"a\":" : "[";
            var close = inObject ? "}" : "]";
            var nested = new StringBuilder(depth * 6);
            for (var i = 0; i < depth; i++)
            {
                nested.Append(open);
            }

            nested.Append('1');
            if (closed)
            {
                for (var i = 0; i < depth; i++)
                {
                    nested.Append(close);
                }
            }

            switch (random.Next(3))
            {
                case 0:
                    json = nested.ToString();
                    return $"root nested {depth}, closed {closed}";
                default:
                {
                    var report = ValidReport();
                    var field = random.Next(2) == 0 ? "obd" : Pick(FieldNames);
                    var value = field == "obd" && closed ? "{\"n\":" + nested + "}" : nested.ToString();
                    report.Fields.Insert(random.Next(report.Fields.Count + 1), (field, value));
                    json = report.ToJson();
                    return $"{field} nested {depth}, closed {closed}";
                }
            }
        }

        private (string, byte[]) InvalidUtf8()
        {
            var report = ValidReport();
            var badBytes = Pick(InvalidUtf8Sequences);
            var bytes = Utf8(report.ToJson());
            var where = random.Next(3) switch
            {
                0 => Array.IndexOf(bytes, (byte)'"', random.Next(bytes.Length - 1)) is var q and >= 0 ? q + 1 : 1, // inside a name or string
                1 => bytes.Length - 1,
                _ => random.Next(bytes.Length),
            };
            byte[] mutated = random.Next(2) == 0
                ? [.. bytes.AsSpan(0, where), .. badBytes, .. bytes.AsSpan(where)]
                : [.. bytes.AsSpan(0, where), .. badBytes, .. bytes.AsSpan(Math.Min(bytes.Length, where + badBytes.Length))];
            return ($"bytes {Convert.ToHexString(badBytes)} at {where}", mutated);
        }

        private string LargeString(out string json)
        {
            var report = ValidReport();
            var baseLength = Utf8(report.ToJson()).Length;
            var overhead = baseLength + 9; // ,"note":"" (or the obd wrapper below, same length class)
            int length;
            string detail;
            switch (random.Next(4))
            {
                case 0:
                    length = corpus._maxPayloadBytes - overhead; // exactly at the limit
                    detail = "payload at the size limit";
                    break;
                case 1:
                    length = corpus._maxPayloadBytes - overhead + 1;
                    detail = "payload one byte over the size limit";
                    break;
                case 2:
                    length = random.Next(40_000, 60_000);
                    detail = $"{length}-char string";
                    break;
                default:
                    length = random.Next(65_000, 200_000);
                    detail = $"{length}-char string";
                    break;
            }

            var useObd = random.Next(2) == 0 && length < 60_000;
            var fill = random.Next(2) == 0 ? Fill.Value[..Math.Max(0, length)] : WideFill.Value[..Math.Max(0, length / 3)];
            if (useObd)
            {
                report.Fields.Add(("obd", "{\"s\":\"" + fill + "\"}"));
                detail += " in obd";
            }
            else
            {
                report.Fields.Add(("note", "\"" + fill + "\""));
            }

            json = report.ToJson();
            return detail + $", {Utf8(json).Length} bytes";
        }

        // Built once: the large strings are slices of these.
        private static readonly Lazy<string> Fill = new(() => new string('x', 1_000_000));
        private static readonly Lazy<string> WideFill = new(() => new string('界', 100_000));

        private (string, byte[]) ByteFlip()
        {
            var bytes = Utf8(random.Next(5) == 0 ? Backlog(random.Next(2, 4), mutate: false) : ValidReport().ToJson());
            var flips = random.Next(1, 5);
            var detail = new StringBuilder();
            for (var n = 0; n < flips; n++)
            {
                var at = random.Next(bytes.Length);
                if (random.Next(2) == 0)
                {
                    bytes[at] ^= (byte)(1 << random.Next(8));
                }
                else
                {
                    bytes[at] = (byte)random.Next(256);
                }

                detail.Append(CultureInfo.InvariantCulture, $"{at}:{bytes[at]:X2} ");
            }

            return (detail.ToString().TrimEnd(), bytes);
        }

        private string Structure(out string json)
        {
            // The backlogs at the report limit (cases 8-10) are large and slow to check: one in 24 structure payloads.
            var shape = random.Next(24) == 0 ? random.Next(8, 11) : random.Next(11) is var s && s >= 8 ? s + 3 : s;
            switch (shape)
            {
                case 0:
                    json = "";
                    return "empty";
                case 1:
                    json = " \t\r\n ";
                    return "whitespace";
                case 2:
                    json = Pick(["42", "\"x\"", "null", "true", "-0", "1e309"]);
                    return "top-level scalar";
                case 3:
                    json = "[]";
                    return "empty array";
                case 4:
                    json = "{}";
                    return "empty object";
                case 5:
                    json = $"[{ValidReport().ToJson()},1,\"x\",null,[{ValidReport().ToJson()}],{ValidReport().ToJson()}]";
                    return "array with non-objects";
                case 6:
                    json = ValidReport().ToJson() + Pick(["}", "{}", ",", "]", " x", ValidReport().ToJson()]);
                    return "trailing content";
                case 7:
                    json = "[" + ValidReport().ToJson() + "]]";
                    return "unbalanced array";
                case 8:
                    json = TinyBacklog(corpus._maxReports);
                    return $"backlog of exactly {corpus._maxReports}";
                case 9:
                    json = TinyBacklog(corpus._maxReports + 1);
                    return $"backlog of {corpus._maxReports + 1}";
                case 10:
                    json = TinyBacklog(corpus._maxReports + 1)[..^1] + ",{";
                    return "too many reports then malformed";
                case 11:
                    json = "\uFEFF" + ValidReport().ToJson();
                    return "byte order mark";
                case 12:
                    json = "/* c */" + ValidReport().ToJson();
                    return "comment";
                default:
                    json = ValidReport().ToJson().Replace(",", ",,", StringComparison.Ordinal);
                    return "double commas";
            }
        }

        /// <summary>A backlog of minimal reports; seq numbers continue past the stride here, which is fine: ts stays unique.</summary>
        private string TinyBacklog(int count)
        {
            var text = new StringBuilder("[");
            var baseTs = corpus.NowMs - 120_000 - ((long)index * ReportsPerPayloadStride * 3);
            var baseSeq = (long)index * ReportsPerPayloadStride;
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                text.Append(CultureInfo.InvariantCulture, $"{{\"ts\":{baseTs - i},\"seq\":{baseSeq + i + 1},\"lat\":{40 + (i * 1e-4):0.####},\"lon\":111.7}}");
            }

            return text.Append(']').ToString();
        }
    }
}
