using System.Buffers;
using System.Text;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>MQTT 5.0: the encoder produces the hand-written bytes in <see cref="SpecWire.V500"/>, and decoding them gives the fields.</summary>
public sealed class MqttWireBytesV500Tests
{
    private const MqttProtocolVersion V = MqttProtocolVersion.V500;

    private static ConnectPacket FullConnect => new("dev-1", 60, CleanStart: true)
    {
        ProtocolVersion = V,
        Username = "u1",
        Password = "pw"u8.ToArray(),
        Will = new MqttWill("s/dev-1", "offline"u8.ToArray()) { QoS = MqttQualityOfService.AtLeastOnce, Retain = true, DelayInterval = 5 },
        SessionExpiryInterval = 3600,
        ReceiveMaximum = 1000,
        MaximumPacketSize = 65536,
    };

    [Fact]
    public void Connect_v5_with_session_expiry_receive_maximum_packet_size_and_will_delay_encodes_to_spec_bytes()
        => Assert.Equal(SpecWire.V500.ConnectFull, Wire.Encode(FullConnect, V));

    [Fact]
    public void Connect_v5_with_properties_and_will_properties_decodes_every_field()
    {
        var packet = Wire.Decode<ConnectPacket>(SpecWire.V500.ConnectFull, V);
        Assert.Equal(MqttProtocolVersion.V500, packet.ProtocolVersion);
        Assert.Equal("dev-1", packet.ClientId);
        Assert.Equal(60, packet.KeepAliveSeconds);
        Assert.True(packet.CleanStart);
        Assert.Equal(3600u, packet.SessionExpiryInterval);
        Assert.Equal((ushort)1000, packet.ReceiveMaximum);
        Assert.Equal(65536u, packet.MaximumPacketSize);
        Assert.Null(packet.TopicAliasMaximum);
        Assert.Empty(packet.UserProperties);
        Assert.Equal("u1", packet.Username);
        Assert.Equal("pw"u8.ToArray(), packet.Password!.Value.ToArray());
        Assert.NotNull(packet.Will);
        Assert.Equal("s/dev-1", packet.Will.Topic);
        Assert.Equal("offline"u8.ToArray(), packet.Will.Payload.ToArray());
        Assert.Equal(MqttQualityOfService.AtLeastOnce, packet.Will.QoS);
        Assert.True(packet.Will.Retain);
        Assert.Equal(5u, packet.Will.DelayInterval);
    }

    [Fact]
    public void Connect_v5_without_properties_has_property_length_zero()
    {
        var packet = new ConnectPacket("c", 30, CleanStart: true);
        Assert.Equal(SpecWire.V500.ConnectMinimal, Wire.Encode(packet, V));
        var decoded = Wire.Decode<ConnectPacket>(SpecWire.V500.ConnectMinimal, V);
        Assert.Equal("c", decoded.ClientId);
        Assert.Null(decoded.SessionExpiryInterval);
        Assert.Null(decoded.ReceiveMaximum);
    }

    [Fact]
    public void Connect_v5_allows_a_password_without_a_username()
    {
        var packet = new ConnectPacket("c", 30, true) { Password = "pw"u8.ToArray() };
        var wire = Wire.Encode(packet, V);
        Assert.Equal(0x42, wire[9]); // connect flags: password | clean start
        Assert.Null(Wire.Decode<ConnectPacket>(wire, V).Username);
    }

    [Fact]
    public void Connect_whose_version_differs_from_the_encoding_version_is_rejected()
        => Assert.Throws<ArgumentException>(() => Wire.Encode(new ConnectPacket("c", 30, true), MqttProtocolVersion.V311));

    [Fact]
    public void ConnAck_v5_with_receive_maximum_maximum_qos_and_assigned_client_id_matches_spec_bytes()
    {
        var packet = new ConnAckPacket(false, 0)
        {
            ReceiveMaximum = 20,
            MaximumQoS = MqttQualityOfService.AtLeastOnce,
            AssignedClientIdentifier = "auto",
            TopicAliasMaximum = 10,
        };
        Assert.Equal(SpecWire.V500.ConnAckWithProperties, Wire.Encode(packet, V));

        var decoded = Wire.Decode<ConnAckPacket>(SpecWire.V500.ConnAckWithProperties, V);
        Assert.False(decoded.SessionPresent);
        Assert.Equal(0, decoded.ReasonCode);
        Assert.Equal((ushort)20, decoded.ReceiveMaximum);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, decoded.MaximumQoS);
        Assert.Equal("auto", decoded.AssignedClientIdentifier);
        Assert.Equal((ushort)10, decoded.TopicAliasMaximum);
        Assert.Null(decoded.RetainAvailable);
        Assert.Null(decoded.SessionExpiryInterval);
    }

    [Fact]
    public void ConnAck_v5_not_authorized_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.ConnAckNotAuthorized, Wire.Encode(new ConnAckPacket(false, 0x87), V));
        Assert.Equal(0x87, Wire.Decode<ConnAckPacket>(SpecWire.V500.ConnAckNotAuthorized, V).ReasonCode);
    }

    [Fact]
    public void ConnAck_v5_boolean_properties_and_server_keep_alive_decode()
    {
        var wire = Wire.Bytes(
            0x20, 0x13,             // CONNACK, remaining length 19
            0x01, 0x00,             // session present, success
            0x10,                   // property length 16
            0x25, 0x00,             // retain available: no
            0x28, 0x01,             // wildcard subscription available
            0x29, 0x00,             // subscription identifiers not available
            0x2A, 0x01,             // shared subscription available
            0x13, 0x00, 0x1E,       // server keep alive 30 s
            0x11, 0x00, 0x00, 0x01, 0x2C); // session expiry interval 300 s
        var decoded = Wire.Decode<ConnAckPacket>(wire, V);
        Assert.True(decoded.SessionPresent);
        Assert.False(decoded.RetainAvailable);
        Assert.True(decoded.WildcardSubscriptionAvailable);
        Assert.False(decoded.SubscriptionIdentifiersAvailable);
        Assert.True(decoded.SharedSubscriptionAvailable);
        Assert.Equal((ushort)30, decoded.ServerKeepAlive);
        Assert.Equal(300u, decoded.SessionExpiryInterval);
    }

    [Fact]
    public void Publish_v5_qos0_without_properties_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.PublishQoS0, Wire.Encode(new PublishPacket("a/b", "hi"u8.ToArray()), V));
        var decoded = Wire.Decode<PublishPacket>(SpecWire.V500.PublishQoS0, V);
        Assert.Equal("a/b", decoded.Topic);
        Assert.Equal("hi"u8.ToArray(), decoded.Payload.ToArray());
        Assert.Null(decoded.TopicAlias);
        Assert.Empty(decoded.UserProperties);
        Assert.Empty(decoded.SubscriptionIdentifiers);
    }

    [Fact]
    public void Publish_v5_qos0_hot_path_writer_matches_spec_bytes()
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttPacketEncoder.WritePublish(writer, "a/b"u8, "hi"u8, MqttQualityOfService.AtMostOnce, retain: false, dup: false, packetId: 0, V);
        Assert.Equal(SpecWire.V500.PublishQoS0, writer.WrittenSpan.ToArray());
    }

    private static PublishPacket PublishWithProperties => new("a/b", "hi"u8.ToArray())
    {
        QoS = MqttQualityOfService.AtLeastOnce,
        PacketId = 10,
        PayloadFormatIndicator = 1,
        MessageExpiryInterval = 60,
        TopicAlias = 5,
        UserProperties = [new MqttUserProperty("k", "v")],
        SubscriptionIdentifiers = [7],
        ContentType = "json",
    };

    [Fact]
    public void Publish_v5_qos1_with_properties_encodes_to_spec_bytes()
        => Assert.Equal(SpecWire.V500.PublishQoS1WithProperties, Wire.Encode(PublishWithProperties, V));

    [Fact]
    public void Publish_v5_qos1_with_properties_decodes_every_field()
    {
        var decoded = Wire.Decode<PublishPacket>(SpecWire.V500.PublishQoS1WithProperties, V);
        Assert.Equal("a/b", decoded.Topic);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, decoded.QoS);
        Assert.Equal(10, decoded.PacketId);
        Assert.Equal((byte)1, decoded.PayloadFormatIndicator);
        Assert.Equal(60u, decoded.MessageExpiryInterval);
        Assert.Equal((ushort)5, decoded.TopicAlias);
        Assert.Equal([new MqttUserProperty("k", "v")], decoded.UserProperties);
        Assert.Equal([7u], decoded.SubscriptionIdentifiers);
        Assert.Equal("json", decoded.ContentType);
        Assert.Null(decoded.ResponseTopic);
        Assert.Null(decoded.CorrelationData);
        Assert.Equal("hi"u8.ToArray(), decoded.Payload.ToArray());
    }

    [Fact]
    public void Publish_v5_view_skips_properties_but_extracts_the_topic_alias()
    {
        var wire = SpecWire.V500.PublishQoS1WithProperties;
        var header = Wire.ReadHeader(wire);
        var view = MqttPacketDecoder.DecodePublish(header, wire.AsSpan(header.HeaderLength), V);
        Assert.Equal("a/b", Encoding.UTF8.GetString(view.TopicUtf8));
        Assert.Equal("hi", Encoding.UTF8.GetString(view.Payload));
        Assert.Equal(MqttQualityOfService.AtLeastOnce, view.QoS);
        Assert.Equal(10, view.PacketId);
        Assert.Equal(5, view.TopicAlias);
    }

    [Fact]
    public void Publish_v5_with_response_topic_and_correlation_data_round_trips_the_values()
    {
        var wire = Wire.Bytes(
            0x30, 0x13,                 // PUBLISH QoS 0, remaining length 19
            0x00, 0x01, "t",            // topic
            0x0E,                       // property length 14
            0x08, 0x00, 0x05, "reply",  // response topic
            0x09, 0x00, 0x03, 0x01, 0x02, 0x03, // correlation data
            "!");                       // payload
        var decoded = Wire.Decode<PublishPacket>(wire, V);
        Assert.Equal("reply", decoded.ResponseTopic);
        Assert.Equal(new byte[] { 1, 2, 3 }, decoded.CorrelationData!.Value.ToArray());
        Assert.Equal(wire, Wire.Encode(decoded, V));
    }

    [Fact]
    public void Publish_v5_with_empty_topic_and_topic_alias_is_accepted()
    {
        var wire = Wire.Bytes(
            0x30, 0x08,                 // PUBLISH QoS 0, remaining length 8
            0x00, 0x00,                 // empty topic name: use the alias
            0x03, 0x23, 0x00, 0x05,     // property length 3: topic alias 5
            "hi");
        var header = Wire.ReadHeader(wire);
        var view = MqttPacketDecoder.DecodePublish(header, wire.AsSpan(header.HeaderLength), V);
        Assert.True(view.TopicUtf8.IsEmpty);
        Assert.Equal(5, view.TopicAlias);
        Assert.Equal((ushort)5, Wire.Decode<PublishPacket>(wire, V).TopicAlias);
        Assert.Equal(wire, Wire.Encode(new PublishPacket("", "hi"u8.ToArray()) { TopicAlias = 5 }, V));
    }

    [Fact]
    public void PubAck_v5_success_uses_the_short_form()
    {
        Assert.Equal(SpecWire.V500.PubAckShort, Wire.Encode(new PubAckPacket(10), V));
        var decoded = Wire.Decode<PubAckPacket>(SpecWire.V500.PubAckShort, V);
        Assert.Equal(10, decoded.PacketId);
        Assert.Equal(0, decoded.ReasonCode);
    }

    [Fact]
    public void PubAck_hot_path_writer_matches_spec_bytes()
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttPacketEncoder.WritePubAck(writer, 10);
        Assert.Equal(SpecWire.V500.PubAckShort, writer.WrittenSpan.ToArray());
        Assert.Equal(SpecWire.V311.PubAck, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void PubAck_v5_not_authorized_omits_the_property_length()
    {
        Assert.Equal(SpecWire.V500.PubAckNotAuthorized, Wire.Encode(new PubAckPacket(10, 0x87), V));
        var decoded = Wire.Decode<PubAckPacket>(SpecWire.V500.PubAckNotAuthorized, V);
        Assert.Equal(10, decoded.PacketId);
        Assert.Equal(0x87, decoded.ReasonCode);
    }

    [Fact]
    public void PubAck_v5_not_authorized_with_reason_string_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.PubAckWithReasonString, Wire.Encode(new PubAckPacket(10, 0x87) { ReasonString = "nope" }, V));
        var decoded = Wire.Decode<PubAckPacket>(SpecWire.V500.PubAckWithReasonString, V);
        Assert.Equal(0x87, decoded.ReasonCode);
        Assert.Equal("nope", decoded.ReasonString);
    }

    [Fact]
    public void PubAck_v5_with_reason_and_zero_property_length_decodes()
    {
        byte[] wire = [0x40, 0x04, 0x00, 0x0A, 0x10, 0x00]; // PUBACK rl 4, id 10, 0x10 no matching subscribers, property length 0
        Assert.Equal(0x10, Wire.Decode<PubAckPacket>(wire, V).ReasonCode);
    }

    [Fact]
    public void Subscribe_v5_with_shared_filter_subscription_options_and_identifier_matches_spec_bytes()
    {
        var packet = new SubscribePacket(2,
        [
            new MqttSubscription("$share/gw/fleet/#", MqttQualityOfService.AtLeastOnce) { RetainAsPublished = true, RetainHandling = 2 },
            new MqttSubscription("a/+", MqttQualityOfService.AtMostOnce) { NoLocal = true, RetainHandling = 1 },
        ])
        {
            SubscriptionIdentifier = 7,
        };
        Assert.Equal(SpecWire.V500.Subscribe, Wire.Encode(packet, V));

        var decoded = Wire.Decode<SubscribePacket>(SpecWire.V500.Subscribe, V);
        Assert.Equal(2, decoded.PacketId);
        Assert.Equal(7u, decoded.SubscriptionIdentifier);
        Assert.Equal(2, decoded.Subscriptions.Count);
        var shared = decoded.Subscriptions[0];
        Assert.Equal("$share/gw/fleet/#", shared.TopicFilter);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, shared.MaximumQoS);
        Assert.False(shared.NoLocal);
        Assert.True(shared.RetainAsPublished);
        Assert.Equal(2, shared.RetainHandling);
        var local = decoded.Subscriptions[1];
        Assert.Equal("a/+", local.TopicFilter);
        Assert.True(local.NoLocal);
        Assert.False(local.RetainAsPublished);
        Assert.Equal(1, local.RetainHandling);
    }

    [Fact]
    public void SubAck_v5_with_granted_qos_and_failure_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.SubAck, Wire.Encode(new SubAckPacket(2, [0x01, 0x80]), V));
        var decoded = Wire.Decode<SubAckPacket>(SpecWire.V500.SubAck, V);
        Assert.Equal(2, decoded.PacketId);
        Assert.Equal(new byte[] { 0x01, 0x80 }, decoded.ReasonCodes);
        Assert.Null(decoded.ReasonString);
    }

    [Fact]
    public void Unsubscribe_v5_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.Unsubscribe, Wire.Encode(new UnsubscribePacket(3, ["a/+"]), V));
        var decoded = Wire.Decode<UnsubscribePacket>(SpecWire.V500.Unsubscribe, V);
        Assert.Equal(3, decoded.PacketId);
        Assert.Equal(["a/+"], decoded.TopicFilters);
    }

    [Fact]
    public void UnsubAck_v5_with_reason_codes_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.UnsubAck, Wire.Encode(new UnsubAckPacket(3, [0x00, 0x11]), V));
        var decoded = Wire.Decode<UnsubAckPacket>(SpecWire.V500.UnsubAck, V);
        Assert.Equal(3, decoded.PacketId);
        Assert.Equal(new byte[] { 0x00, 0x11 }, decoded.ReasonCodes);
    }

    [Fact]
    public void PingReq_and_PingResp_v5_are_two_bytes()
    {
        Assert.Equal(SpecWire.V500.PingReq, Wire.Encode(PingReqPacket.Instance, V));
        Assert.Equal(SpecWire.V500.PingResp, Wire.Encode(PingRespPacket.Instance, V));
        Assert.IsType<PingReqPacket>(Wire.Decode<PingReqPacket>(SpecWire.V500.PingReq, V));
        Assert.IsType<PingRespPacket>(Wire.Decode<PingRespPacket>(SpecWire.V500.PingResp, V));
    }

    [Fact]
    public void Disconnect_v5_normal_has_remaining_length_zero()
    {
        Assert.Equal(SpecWire.V500.DisconnectNormal, Wire.Encode(new DisconnectPacket(), V));
        Assert.Equal(0, Wire.Decode<DisconnectPacket>(SpecWire.V500.DisconnectNormal, V).ReasonCode);
    }

    [Fact]
    public void Disconnect_v5_with_reason_and_session_expiry_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V500.DisconnectWithWill, Wire.Encode(new DisconnectPacket(0x04) { SessionExpiryInterval = 0 }, V));
        var decoded = Wire.Decode<DisconnectPacket>(SpecWire.V500.DisconnectWithWill, V);
        Assert.Equal(0x04, decoded.ReasonCode);
        Assert.Equal(0u, decoded.SessionExpiryInterval);
    }

    [Fact]
    public void Disconnect_v5_with_only_a_reason_code_omits_the_property_length()
    {
        Assert.Equal(SpecWire.V500.DisconnectSessionTakenOver, Wire.Encode(new DisconnectPacket(0x8E), V));
        Assert.Equal(0x8E, Wire.Decode<DisconnectPacket>(SpecWire.V500.DisconnectSessionTakenOver, V).ReasonCode);
    }

    [Fact]
    public void Disconnect_v5_from_server_with_reason_string_and_server_reference_decodes()
    {
        var wire = Wire.Bytes(
            0xE0, 0x0E,                 // DISCONNECT, remaining length 14
            0x9C,                       // use another server
            0x0C,                       // property length 12
            0x1F, 0x00, 0x02, "go",     // reason string
            0x1C, 0x00, 0x04, "b:83");  // server reference
        var decoded = Wire.Decode<DisconnectPacket>(wire, V);
        Assert.Equal(0x9C, decoded.ReasonCode);
        Assert.Equal("go", decoded.ReasonString);
        Assert.Equal("b:83", decoded.ServerReference);
        Assert.Equal(wire, Wire.Encode(decoded, V));
    }
}
