Console.WriteLine("Fleet simulator: not implemented yet.");
return 1;
