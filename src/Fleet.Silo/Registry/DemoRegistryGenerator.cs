using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Fleet.Silo.Registry;

/// <summary>
/// Builds the demo registry in memory from the options alone. One seeded <see cref="Random"/> is drawn from in a
/// fixed order and the clock is never read, so the same options always give the same registry.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Reproducible demo data needs a seeded generator; no secret comes from it.")]
internal sealed class DemoRegistryGenerator
{
    private const double MetresPerDegree = 111_320;
    private const string PlateLetters = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    private const string VinChars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    private const string ModelYearCodes = "GHJKLMNPRS"; // 2016 … 2025
    private const int VinSerials = 1_000_000;
    private const int VinSerialStride = 738_457; // coprime with 10^6, so ordinal → serial is a bijection: VINs never collide

    private static readonly string[] NewEnergy = ["bev", "phev", "fcev"];

    private readonly DemoSeedOptions _options;
    private readonly Random _random;
    private readonly DemoSecrets _secrets;
    private readonly HashSet<string> _plates = new(StringComparer.Ordinal);
    private readonly HashSet<string> _terminalIds = new(StringComparer.Ordinal);
    private readonly int _vinSerialOffset;

    private DemoRegistryGenerator(DemoSeedOptions options)
    {
        _options = options;
        _random = new Random(options.Seed);
        _secrets = new DemoSecrets(options.Seed);
        _vinSerialOffset = _random.Next(VinSerials);
    }

    public static DemoRegistry Generate(DemoSeedOptions options) => new DemoRegistryGenerator(options).Build();

    private DemoRegistry Build()
    {
        var regions = DemoProvinceData.Regions;
        var (zones, departments) = BuildZonesAndDepartments();
        var perDepartment = Apportion(_options.Vehicles, DemoProvinceData.Departments.Select(d => d.Weight).ToArray());
        var vehicles = BuildVehicles(perDepartment);
        var drivers = BuildDrivers(perDepartment);
        var terminals = BuildTerminals(vehicles.Count);
        var quotas = BuildQuotas(vehicles);
        var users = BuildUsers(drivers);
        return new DemoRegistry(regions, zones, departments, vehicles, drivers, terminals, quotas, users);
    }

    private static RegionSpec Region(string code) => DemoProvinceData.Regions.First(r => r.Code == code);

    private (List<DemoZone> Zones, List<DemoDepartment> Departments) BuildZonesAndDepartments()
    {
        // A zone is one compound 1.5–3 km from the seat; its departments stand on a 260 m grid inside it.
        var zoneCentres = DemoProvinceData.Zones
            .Select(z => Offset(Region(z.RegionCode), 1500 + (_random.NextDouble() * 1500)))
            .ToArray();
        var membersSoFar = new int[zoneCentres.Length];
        var departments = new List<DemoDepartment>();
        var lotsByZone = zoneCentres.Select(_ => new List<(double Lat, double Lon)>()).ToArray();

        foreach (var spec in DemoProvinceData.Departments)
        {
            var region = Region(spec.RegionCode);
            (double Lat, double Lon) office;
            if (spec.Zone is { } zone)
            {
                var k = membersSoFar[zone]++;
                var east = (((k % 3) - 1) * 260.0) + Jitter(25);
                var north = (((k / 3) - 0.5) * 260.0) + Jitter(25);
                office = Move(zoneCentres[zone], north, east);
            }
            else
            {
                // Within ~6 km of the seat: the lots must lie within 10 km of the region centre.
                office = Offset(region, 800 + (_random.NextDouble() * 5200));
            }

            office = (Math.Round(office.Lat, 6), Math.Round(office.Lon, 6));

            // The lot (≈ 40 × 60 m) sits 70 m to one side of the office building.
            var side = _random.Next(4);
            var lotCentre = side switch
            {
                0 => Move(office, 0, 70),
                1 => Move(office, 0, -70),
                2 => Move(office, 70, 0),
                _ => Move(office, -70, 0),
            };
            var lot = Rectangle(lotCentre, halfNorth: 30, halfEast: 20);
            if (spec.Zone is { } z)
            {
                lotsByZone[z].Add(office);
                lotsByZone[z].AddRange(lot);
            }

            var address = string.Create(
                CultureInfo.InvariantCulture,
                $"{region.City}{Pick(region.Districts)}{Pick(region.Streets)}{1 + _random.Next(298)}号");
            departments.Add(new DemoDepartment(spec.RegionCode, spec.Zone, spec.Name, address, office.Lat, office.Lon, MultiPolygonWkt(lot)));
        }

        var zones = new List<DemoZone>();
        for (var z = 0; z < DemoProvinceData.Zones.Length; z++)
        {
            var points = lotsByZone[z];
            var margin = 80.0;
            var south = points.Min(p => p.Lat);
            var north = points.Max(p => p.Lat);
            var west = points.Min(p => p.Lon);
            var east = points.Max(p => p.Lon);
            var dLat = margin / MetresPerDegree;
            var dLon = margin / (MetresPerDegree * Math.Cos(south * Math.PI / 180));
            var boundary = Box(south - dLat, west - dLon, north + dLat, east + dLon);
            zones.Add(new DemoZone(DemoProvinceData.Zones[z].RegionCode, DemoProvinceData.Zones[z].Name, MultiPolygonWkt(boundary)));
        }

        return (zones, departments);
    }

    private List<DemoVehicle> BuildVehicles(int[] perDepartment)
    {
        var total = _options.Vehicles;
        // 社会化 (rental) vehicles: about 0.6% (134 of 23,188 in the real province), at least one in any sizeable fleet.
        var rentalCount = Math.Max(total >= 20 ? 1 : 0, (int)Math.Round(total * 0.006));
        var rentals = new HashSet<int>();
        while (rentals.Count < rentalCount)
        {
            rentals.Add(_random.Next(total));
        }

        var vehicles = new List<DemoVehicle>(total);
        for (var d = 0; d < perDepartment.Length; d++)
        {
            var spec = DemoProvinceData.Departments[d];
            var region = Region(spec.RegionCode);
            var categoryWeights = DemoProvinceData.CategoryWeights(spec.Kind);
            for (var i = 0; i < perDepartment[d]; i++)
            {
                var ordinal = vehicles.Count;
                var rental = rentals.Contains(ordinal);
                var categoryIndex = rental ? 0 : PickWeighted(categoryWeights);
                var category = DemoProvinceData.Categories[categoryIndex];
                var newEnergy = _random.Next(1000) < DemoProvinceData.NewEnergyPerMille[categoryIndex];
                var model = PickModel(category, newEnergy);
                var police = spec.Kind == DepartmentKind.Police && category == "law_enforcement";
                var plate = UniquePlate(region.PlatePrefix, model.Energy, police);
                var vin = Vin(model.Wmi, ordinal);
                var marked = rental
                    ? false // a rental car carries the rental company's livery
                    : category switch
                    {
                        "law_enforcement" => _random.Next(100) < 85,   // some plain-clothes cars
                        "confidential_comms" => _random.Next(100) < 40,
                        _ => true,
                    };
                var status = _random.Next(1000) < 30 ? "maintenance" : "active";
                vehicles.Add(new DemoVehicle(
                    plate,
                    vin,
                    category,
                    rental ? "rental" : "owned",
                    d,
                    spec.Zone,
                    model.Name,
                    model.Energy,
                    model.Seats,
                    marked,
                    OnQuota: !rental,
                    status));
            }
        }

        return vehicles;
    }

    private List<DemoDriver> BuildDrivers(int[] perDepartment)
    {
        var drivers = new List<DemoDriver>();
        for (var d = 0; d < perDepartment.Length; d++)
        {
            // About one 司勤人员 per 2.5 vehicles.
            var count = perDepartment[d] == 0 ? 0 : Math.Max(1, (int)Math.Round(perDepartment[d] / 2.5));
            for (var i = 0; i < count; i++)
            {
                var licence = DemoProvinceData.LicenceClasses[PickWeighted(DemoProvinceData.LicenceClasses.Select(l => l.Weight).ToArray())].Class;
                var phone = string.Create(CultureInfo.InvariantCulture, $"{Pick(DemoProvinceData.PhonePrefixes)}{_random.Next(100_000_000):D8}");
                drivers.Add(new DemoDriver(PersonName(), d, DemoProvinceData.Departments[d].Zone, licence, phone));
            }
        }

        return drivers;
    }

    private List<DemoTerminal> BuildTerminals(int vehicleCount)
    {
        var terminals = new List<DemoTerminal>(vehicleCount);
        for (var v = 0; v < vehicleCount; v++)
        {
            // T + 12 digits, the shape of a JT/T 808 terminal number (the SIM's data-card number, zero-padded to 12).
            string id;
            do
            {
                id = string.Create(CultureInfo.InvariantCulture, $"T0{(_random.Next(2) == 0 ? "145" : "147")}{_random.Next(100_000_000):D8}");
            }
            while (!_terminalIds.Add(id));

            terminals.Add(new DemoTerminal(id, v, _secrets.TerminalPassword(id)));
        }

        return terminals;
    }

    private List<DemoQuota> BuildQuotas(List<DemoVehicle> vehicles)
    {
        var holdings = new int[DemoProvinceData.Departments.Length, DemoProvinceData.Categories.Length];
        foreach (var vehicle in vehicles)
        {
            holdings[vehicle.Department, Array.IndexOf(DemoProvinceData.Categories, vehicle.Category)]++;
        }

        // 编制 covers what is held plus a little headroom (rentals included, so quota ≥ holdings however it is counted).
        var quotas = new List<DemoQuota>();
        for (var d = 0; d < holdings.GetLength(0); d++)
        {
            for (var c = 0; c < holdings.GetLength(1); c++)
            {
                var held = holdings[d, c];
                if (held > 0)
                {
                    quotas.Add(new DemoQuota(d, DemoProvinceData.Categories[c], held + ((held + 9) / 10) + _random.Next(3)));
                }
            }
        }

        return quotas;
    }

    private List<DemoUser> BuildUsers(List<DemoDriver> drivers)
    {
        int DepartmentIndex(string name) => Array.FindIndex(DemoProvinceData.Departments, d => d.Name == name);
        var finance = DepartmentIndex("内蒙古自治区财政厅");
        var pool = DepartmentIndex("内蒙古自治区机关事务管理局");
        var police = DepartmentIndex("呼和浩特市公安局");
        var financeDriver = drivers.FirstOrDefault(d => d.Department == finance)?.Name ?? PersonName();

        DemoUser User(string username, string displayName, string role, int? department) => new(
            username,
            displayName,
            role,
            department,
            department is { } d ? DemoProvinceData.Departments[d].RegionCode : DemoProvinceData.ProvinceCode,
            _secrets.UserPassword(username));

        return
        [
            User("admin", "系统管理员", "admin", null),
            User("dispatcher", "自治区公务用车调度中心", "dispatcher", pool),
            User("supervisor", "公务用车监管中心", "supervisor", null),
            User("manager1", "财政厅车辆管理员", "department_manager", finance),
            User("manager2", "呼和浩特市公安局车辆管理员", "department_manager", police),
            User("driver1", financeDriver, "driver", finance),
            User("requester1", PersonName(), "requester", finance),
        ];
    }

    private ModelSpec PickModel(string category, bool newEnergy)
    {
        var candidates = DemoProvinceData.Models
            .Where(m => m.Categories.Contains(category) && NewEnergy.Contains(m.Energy) == newEnergy)
            .ToArray();
        if (candidates.Length == 0)
        {
            candidates = DemoProvinceData.Models.Where(m => m.Categories.Contains(category)).ToArray();
        }

        return candidates[PickWeighted(candidates.Select(m => m.Weight).ToArray())];
    }

    private string UniquePlate(string prefix, string energy, bool police)
    {
        while (true)
        {
            var plate = energy switch
            {
                // 新能源 plates: D for battery-electric, F for the others (plug-in hybrid, fuel cell), then five digits.
                "bev" => string.Create(CultureInfo.InvariantCulture, $"{prefix}D{_random.Next(100_000):D5}"),
                "phev" or "fcev" => string.Create(CultureInfo.InvariantCulture, $"{prefix}F{_random.Next(100_000):D5}"),
                // Police cars: four characters and 警.
                _ when police => _random.Next(4) == 0
                    ? string.Create(CultureInfo.InvariantCulture, $"{prefix}{PlateLetters[_random.Next(PlateLetters.Length)]}{_random.Next(1000):D3}警")
                    : string.Create(CultureInfo.InvariantCulture, $"{prefix}{_random.Next(10_000):D4}警"),
                _ => OrdinaryPlate(prefix),
            };
            if (_plates.Add(plate))
            {
                return plate;
            }
        }
    }

    private string OrdinaryPlate(string prefix)
    {
        var roll = _random.Next(100);
        var letters = roll < 65 ? 0 : roll < 90 ? 1 : 2;
        var builder = new StringBuilder(prefix, prefix.Length + 5);
        for (var i = 0; i < 5; i++)
        {
            builder.Append(i < letters ? PlateLetters[_random.Next(PlateLetters.Length)] : (char)('0' + _random.Next(10)));
        }

        return builder.ToString();
    }

    private string Vin(string wmi, int ordinal)
    {
        Span<char> vin = stackalloc char[17];
        wmi.AsSpan().CopyTo(vin);
        for (var i = 3; i < 8; i++)
        {
            vin[i] = VinChars[_random.Next(VinChars.Length)];
        }

        vin[9] = ModelYearCodes[_random.Next(ModelYearCodes.Length)];
        vin[10] = VinChars[_random.Next(VinChars.Length)];
        var serial = (int)((((long)ordinal * VinSerialStride) + _vinSerialOffset) % VinSerials);
        serial.TryFormat(vin[11..], out _, "D6", CultureInfo.InvariantCulture);
        vin[8] = '0'; // weight 0: a placeholder until the digit is known
        vin[8] = VinCheckDigit(vin);
        return new string(vin);
    }

    /// <summary>The ISO 3779 check digit (position 9), which GB 16735 makes mandatory for Chinese VINs.</summary>
    internal static char VinCheckDigit(ReadOnlySpan<char> vin)
    {
        ReadOnlySpan<int> weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
        var sum = 0;
        for (var i = 0; i < 17; i++)
        {
            sum += Transliterate(vin[i]) * weights[i];
        }

        var remainder = sum % 11;
        return remainder == 10 ? 'X' : (char)('0' + remainder);
    }

    private static int Transliterate(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'A' and <= 'H' => c - 'A' + 1,
        >= 'J' and <= 'N' => c - 'J' + 1,
        'P' => 7,
        'R' => 9,
        >= 'S' and <= 'Z' => c - 'S' + 2,
        _ => throw new ArgumentOutOfRangeException(nameof(c), c, "not a VIN character"),
    };

    private string PersonName() => _random.Next(100) < 12
        ? Pick(DemoProvinceData.MongolianNames)
        : Pick(DemoProvinceData.Surnames) + Pick(DemoProvinceData.GivenNames);

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];

    private int PickWeighted(int[] weights)
    {
        var roll = _random.Next(weights.Sum());
        for (var i = 0; i < weights.Length; i++)
        {
            roll -= weights[i];
            if (roll < 0)
            {
                return i;
            }
        }

        throw new InvalidOperationException("unreachable: the roll is below the sum of the weights");
    }

    private double Jitter(double metres) => ((_random.NextDouble() * 2) - 1) * metres;

    /// <summary>Splits <paramref name="total"/> in proportion to the weights (largest remainder), with no randomness.</summary>
    private static int[] Apportion(int total, int[] weights)
    {
        var sum = weights.Sum();
        var shares = weights.Select(w => (double)total * w / sum).ToArray();
        var counts = shares.Select(s => (int)Math.Floor(s)).ToArray();
        var left = total - counts.Sum();
        foreach (var i in Enumerable.Range(0, weights.Length).OrderByDescending(i => shares[i] - counts[i]).ThenBy(i => i).Take(left))
        {
            counts[i]++;
        }

        return counts;
    }

    /// <summary>A point at <paramref name="metres"/> from the region's seat in a random direction.</summary>
    private (double Lat, double Lon) Offset(RegionSpec region, double metres)
    {
        var angle = _random.NextDouble() * 2 * Math.PI;
        return Move((region.Lat, region.Lon), metres * Math.Cos(angle), metres * Math.Sin(angle));
    }

    private static (double Lat, double Lon) Move((double Lat, double Lon) from, double north, double east) =>
        (from.Lat + (north / MetresPerDegree), from.Lon + (east / (MetresPerDegree * Math.Cos(from.Lat * Math.PI / 180))));

    private static (double Lat, double Lon)[] Rectangle((double Lat, double Lon) centre, double halfNorth, double halfEast)
    {
        var (south, west) = Move(centre, -halfNorth, -halfEast);
        var (north, east) = Move(centre, halfNorth, halfEast);
        return Box(south, west, north, east);
    }

    private static (double Lat, double Lon)[] Box(double south, double west, double north, double east) =>
        [(south, west), (south, east), (north, east), (north, west)];

    /// <summary>WKT of a one-polygon MultiPolygon (x = lon, y = lat), rounded to 6 decimals (~0.1 m).</summary>
    private static string MultiPolygonWkt((double Lat, double Lon)[] corners)
    {
        var builder = new StringBuilder("MULTIPOLYGON(((");
        foreach (var (lat, lon) in corners.Append(corners[0]))
        {
            builder.Append(CultureInfo.InvariantCulture, $"{lon:F6} {lat:F6},");
        }

        builder[^1] = ')';
        return builder.Append("))").ToString();
    }
}
