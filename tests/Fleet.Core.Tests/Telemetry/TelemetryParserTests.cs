using System.Text;
using Fleet.Core.Telemetry;

namespace Fleet.Core.Tests.Telemetry;

public sealed class TelemetryParserTests
{
    // 2026-11-22T04:00:00Z: a fixed "now" so the time-window checks do not depend on the clock.
    private const long Now = 1_795_320_000_000;

    private readonly TelemetryFix[] _fixes = new TelemetryFix[TelemetryLimits.Default.MaxReportsPerPayload];
    private readonly List<TelemetryReject> _rejects = [];

    private int Parse(string json) => TelemetryParser.Parse(Encoding.UTF8.GetBytes(json), Now, _fixes, _rejects);

    private static string Report(long ts = Now, string lat = "40.84", string lon = "111.75", string extra = "")
        => $"{{\"ts\":{ts},\"lat\":{lat},\"lon\":{lon}{extra}}}";

    [Fact]
    public void A_full_report_parses_every_field()
    {
        var json = $$$"""{"ts":{{{Now}}},"seq":42,"lat":40.8414,"lon":111.7519,"spd":63.5,"hdg":270,"alt":1050.2,"acc":true,"odo":12345.6,"fuel":55,"sats":11,"hdop":0.9,"alarm":256,"obd":{"rpm":2100,"dtc":["P0300"]}}""";
        var bytes = Encoding.UTF8.GetBytes(json);

        var count = TelemetryParser.Parse(bytes, Now, _fixes, _rejects);

        Assert.Equal(1, count);
        Assert.Empty(_rejects);
        var fix = _fixes[0];
        Assert.Equal(Now, fix.Ts);
        Assert.Equal(42u, fix.Seq);
        Assert.Equal(40.8414, fix.Lat);
        Assert.Equal(111.7519, fix.Lon);
        Assert.Equal(63.5f, fix.Spd);
        Assert.Equal(270, fix.Hdg);
        Assert.Equal(1050.2f, fix.Alt);
        Assert.True(fix.Acc);
        Assert.Equal(12345.6, fix.Odo);
        Assert.Equal(55f, fix.Fuel);
        Assert.True(float.IsNaN(fix.Soc));
        Assert.Equal(11, fix.Sats);
        Assert.Equal(0.9f, fix.Hdop);
        Assert.True(fix.PowerCut);
        Assert.True(fix.HasObd);
        Assert.Equal("""{"rpm":2100,"dtc":["P0300"]}""", Encoding.UTF8.GetString(bytes[fix.Obd]));
    }

    [Fact]
    public void Absent_and_null_optional_fields_are_marked_absent()
    {
        Assert.Equal(1, Parse(Report(extra: ",\"spd\":null,\"acc\":null")));

        var fix = _fixes[0];
        Assert.True(float.IsNaN(fix.Spd));
        Assert.Null(fix.Acc);
        Assert.Equal(-1, fix.Hdg);
        Assert.Equal(-1, fix.Sats);
        Assert.Equal(0u, fix.Seq);
        Assert.False(fix.HasObd);
    }

    [Fact]
    public void A_backlog_array_keeps_report_order()
    {
        var json = "[" + string.Join(',', Enumerable.Range(0, 3).Select(i => Report(Now - 3000 + (i * 1000), extra: $",\"seq\":{i}"))) + "]";

        Assert.Equal(3, Parse(json));
        Assert.Equal([0u, 1u, 2u], _fixes[..3].Select(f => f.Seq));
        Assert.Empty(_rejects);
    }

    [Theory]
    [InlineData("{\"lat\":40.8,\"lon\":111.7}", TelemetryRejectReason.MissingTimestamp, "ts")]
    [InlineData("{\"ts\":\"soon\",\"lat\":40.8,\"lon\":111.7}", TelemetryRejectReason.InvalidField, "ts")]
    [InlineData("{\"ts\":1795320000000,\"lon\":111.7}", TelemetryRejectReason.MissingPosition, "lat")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8}", TelemetryRejectReason.MissingPosition, "lon")]
    [InlineData("{\"ts\":1795320000000,\"lat\":90.5,\"lon\":111.7}", TelemetryRejectReason.InvalidPosition, "lat")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":-180.01}", TelemetryRejectReason.InvalidPosition, "lon")]
    [InlineData("{\"ts\":1795320000000,\"lat\":1e400,\"lon\":111.7}", TelemetryRejectReason.InvalidPosition, "lat")]
    [InlineData("{\"ts\":1795320000000,\"lat\":\"NaN\",\"lon\":111.7}", TelemetryRejectReason.InvalidPosition, "lat")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"spd\":300.5}", TelemetryRejectReason.SpeedOutOfRange, "spd")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"spd\":-1}", TelemetryRejectReason.SpeedOutOfRange, "spd")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"hdg\":360}", TelemetryRejectReason.InvalidField, "hdg")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"acc\":1}", TelemetryRejectReason.InvalidField, "acc")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"soc\":101}", TelemetryRejectReason.InvalidField, "soc")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"seq\":-5}", TelemetryRejectReason.InvalidField, "seq")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"alarm\":4294967296}", TelemetryRejectReason.InvalidField, "alarm")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,\"obd\":[1,2]}", TelemetryRejectReason.InvalidField, "obd")]
    public void An_invalid_report_is_rejected_with_its_reason(string json, TelemetryRejectReason reason, string field)
    {
        Assert.Equal(0, Parse(json));

        var reject = Assert.Single(_rejects);
        Assert.Equal(new TelemetryReject(0, reason, field), reject);
    }

    // PostgreSQL jsonb refuses these (22P05, 22P02, 22003); accepted, one would stall its submission for good.
    [Theory]
    [InlineData("""{"x":"\u0000"}""")]
    [InlineData("""{"x":"a\u0000b"}""")]
    [InlineData("""{"x\u0000":1}""")]
    [InlineData("""{"x":"\ud800"}""")]
    [InlineData("""{"x":"\uD800x"}""")]
    [InlineData("""{"x":"\udc00"}""")]
    [InlineData("""{"x":"\ud800\u0041"}""")]
    [InlineData("""{"x":"\ud800\ud800"}""")]
    [InlineData("""{"\ud800":1}""")]
    [InlineData("""{"x":1e1000000}""")]
    [InlineData("""{"x":-1e1000000}""")]
    [InlineData("""{"x":1e-20000}""")]
    [InlineData("""{"deep":{"list":[1,{"y":"\u0000"}]}}""")]
    [InlineData("""{"deep":[[1e400]]}""")]
    public void An_obd_object_jsonb_cannot_hold_is_rejected(string obd)
    {
        Assert.Equal(0, Parse(Report(extra: ",\"obd\":" + obd)));

        Assert.Equal(new TelemetryReject(0, TelemetryRejectReason.InvalidField, "obd"), Assert.Single(_rejects));
    }

    [Theory]
    [InlineData("""{"x":"\u4e2d"}""")]
    [InlineData("""{"x":"\"quoted\"","y":"a\\b\/c\n\t"}""")]
    [InlineData("""{"emoji":"\ud83d\ude97","\u0041":[1.5e300,-0.0,1e-300,true,null,{"n":{"m":"中文"}}]}""")]
    [InlineData("""{}""")]
    public void A_valid_nested_obd_object_with_escapes_is_accepted(string obd)
    {
        var json = Report(extra: ",\"obd\":" + obd);

        Assert.Equal(1, Parse(json));

        Assert.Empty(_rejects);
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(obd, Encoding.UTF8.GetString(bytes[_fixes[0].Obd]));
    }

    [Fact]
    public void Timestamps_outside_the_window_are_rejected_at_the_edges()
    {
        var fiveMinutes = 5 * 60 * 1000L;
        var thirtyDays = 30L * 24 * 3600 * 1000;
        var json = "[" + string.Join(',', Report(Now + fiveMinutes), Report(Now + fiveMinutes + 1), Report(Now - thirtyDays), Report(Now - thirtyDays - 1)) + "]";

        Assert.Equal(2, Parse(json));
        Assert.Equal(
            [new TelemetryReject(1, TelemetryRejectReason.TimestampInFuture, "ts"), new TelemetryReject(3, TelemetryRejectReason.TimestampTooOld, "ts")],
            _rejects);
    }

    [Fact]
    public void A_bad_report_in_a_backlog_rejects_only_itself()
    {
        var json = "[" + Report() + ",17," + Report(lat: "95") + "," + Report() + "]";

        Assert.Equal(2, Parse(json));
        Assert.Equal(
            [new TelemetryReject(1, TelemetryRejectReason.NotAnObject), new TelemetryReject(2, TelemetryRejectReason.InvalidPosition, "lat")],
            _rejects);
    }

    [Theory]
    [InlineData("[{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7},{\"ts\":1795320000000,\"lat\":40")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7} trailing")]
    [InlineData("{\"ts\":1795320000000,\"lat\":40.8,\"lon\":111.7,}")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{'ts':1}")]
    public void Malformed_json_rejects_the_whole_payload_and_keeps_nothing(string json)
    {
        Assert.Equal(0, Parse(json));

        Assert.Equal(new TelemetryReject(-1, TelemetryRejectReason.MalformedJson), Assert.Single(_rejects));
    }

    [Fact]
    public void Deep_nesting_is_malformed_not_a_stack_overflow()
    {
        var deep = new string('[', 5000) + new string(']', 5000);

        Assert.Equal(0, Parse(Report(extra: ",\"obd\":{\"x\":" + deep + "}")));
        Assert.Equal(TelemetryRejectReason.MalformedJson, Assert.Single(_rejects).Reason);
    }

    [Fact]
    public void Invalid_utf8_is_rejected()
    {
        var bytes = Encoding.UTF8.GetBytes(Report(extra: ",\"obd\":{\"v\":\"XX\"}"));
        var at = Array.IndexOf(bytes, (byte)'X');
        bytes[at] = 0xC3;
        bytes[at + 1] = 0x28;

        Assert.Equal(0, TelemetryParser.Parse(bytes, Now, _fixes, _rejects));
        Assert.Equal(new TelemetryReject(-1, TelemetryRejectReason.MalformedJson, "utf8"), Assert.Single(_rejects));
    }

    [Fact]
    public void A_top_level_scalar_is_not_a_report()
    {
        Assert.Equal(0, Parse("42"));
        Assert.Equal(new TelemetryReject(-1, TelemetryRejectReason.NotAnObject), Assert.Single(_rejects));
    }

    [Fact]
    public void A_backlog_of_exactly_the_limit_is_accepted_and_one_more_is_refused_whole()
    {
        var limit = TelemetryLimits.Default.MaxReportsPerPayload;
        var limits = TelemetryLimits.Default with { MaxPayloadBytes = 1 << 20 };
        string Backlog(int n) => "[" + string.Join(',', Enumerable.Repeat(Report(), n)) + "]";

        Assert.Equal(limit, TelemetryParser.Parse(Encoding.UTF8.GetBytes(Backlog(limit)), Now, _fixes, _rejects, limits));
        Assert.Empty(_rejects);

        Assert.Equal(0, TelemetryParser.Parse(Encoding.UTF8.GetBytes(Backlog(limit + 1)), Now, _fixes, _rejects, limits));
        Assert.Equal(new TelemetryReject(-1, TelemetryRejectReason.TooManyReports), Assert.Single(_rejects));
    }

    [Fact]
    public void A_payload_over_64_KiB_is_refused_before_parsing()
    {
        var json = Report(extra: ",\"obd\":{\"pad\":\"" + new string('x', 64 * 1024) + "\"}");

        Assert.Equal(0, Parse(json));
        Assert.Equal(new TelemetryReject(-1, TelemetryRejectReason.PayloadTooLarge), Assert.Single(_rejects));
    }

    [Fact]
    public void Unknown_fields_are_ignored_and_escaped_names_are_recognised()
    {
        Assert.Equal(1, Parse($$"""{"vendor":{"a":[1,{"b":2}]},"\u0074s":{{Now}},"l\u0061t":41.5,"lon":112.1,"x":"y"}"""));

        Assert.Empty(_rejects);
        Assert.Equal(41.5, _fixes[0].Lat);
        Assert.Equal(Now, _fixes[0].Ts);
    }

    [Fact]
    public void Parsing_a_report_allocates_nothing()
    {
        var bytes = Encoding.UTF8.GetBytes($$$"""{"ts":{{{Now}}},"seq":7,"lat":40.8414,"lon":111.7519,"spd":63.5,"hdg":270,"acc":true,"odo":12345.6,"sats":11,"hdop":0.9,"obd":{"rpm":2100}}""");
        var rejects = new List<TelemetryReject>(4);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(1, TelemetryParser.Parse(bytes, Now, _fixes, rejects));
        }

        var fixes = _fixes;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            TelemetryParser.Parse(bytes, Now, fixes, rejects);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Empty(rejects);
    }
}
