# tp-a-4: Sofia (UX designer in Madrid; memory owner) and Ben (backend engineer in Edinburgh),
# colleagues at the travel-app company Fieldnote, chatting in work DMs. Sep 2024 - May 2025.
# All text hand-written.
CONV = "tp-a-4"
OWNER = "Sofia"
NAMES = {"S": "Sofia", "B": "Ben"}
QUESTION_TIME = "2025-06-05T10:00:00+02:00"

SESSIONS = [
("2024-09-09T10:15:00+02:00", """
B| Morning Sofia! Welcome back. How was the holiday?
S| Ben! Hola. It was perfect. Two weeks in Asturias with Javier, hiking in the Picos de Europa and eating far too much. @@s_asturias
B| Jealous. What's the signature dish there? I feel like you told me once.
S| Cachopo. Two giant veal fillets with ham and cheese inside, fried. We shared one and still couldn't finish it. @@s_cachopo
B| That sounds like a heart attack on a plate. I love it.
S| Ha. What did I miss here?
B| Well. Nadia announced the Atlas project officially on Thursday. Offline maps. You and me are the core pair on it. @@b_atlas_kickoff
S| Oh, finally! I've been sketching offline flows since June.
B| I know, I've seen your Figma. It's about forty pages.
S| Forty-three. But who's counting.
B| Ha. I'll be doing the tile storage and sync on the backend side. @@b_tile_role
S| Perfect. And you? Anything new in Edinburgh?
B| I did something daft. I signed up for the Edinburgh Marathon. It's next May. @@b_marathon_signup
S| Ben! A full marathon? You told me in June you hated running.
B| I hated running badly. Now I'm going to run badly for 26 miles. Kai says I've lost my mind.
S| Kai is very wise. What's your goal time?
B| Under four hours. Ambitious for a man who gets out of breath on the stairs. @@b_marathon_goal
S| You'll do it. I'll be your remote cheerleader.
B| Cheers, Sofia. Right, standup in five. Talk later.
"""),
("2024-09-23T16:40:00+02:00", """
S| Ben, do you have five minutes to look at the download flow before the review tomorrow?
B| Yep, go for it.
S| I've made the "download this area" button a big floating card. Users drag a box on the map to choose what to save.
B| Nice. Just be careful how big that box gets, a whole country would be gigabytes.
S| Good point. I'll show the file size live as they drag.
B| Love that. Tomás will too, he hates surprises.
S| Ha, Tomás hates everything until it passes his tests.
B| That's QA for you. Buenos Aires's finest.
S| Random question. Do you know anything about sourdough?
B| I know how to eat it. Why?
S| I started a starter on Saturday. Flour and water in a jar on my kitchen counter. Javier named it Pancho. @@s_pancho
B| Pancho! Brilliant. Does it have a face?
S| It has bubbles. I think that's a face.
B| Ha. How often do you feed it?
S| Twice a day. It's like having a very boring pet.
B| Speaking of boring: my band has a gig on Saturday. Come if you're ever in Edinburgh.
S| Your band! I forgot you play. What is it called again?
B| The Unreliables. I'm on bass. We mostly do covers, Arctic Monkeys, bit of Fleetwood Mac. @@b_band
S| Perfect name for a band, honestly. Where's the gig?
B| A pub called the Thistle and Crown in Leith. Bring earplugs. @@b_gig_venue
S| Ha. Break a leg, Ben. Not literally, you have a marathon.
"""),
("2024-10-07T11:20:00+02:00", """
B| Sofia, did you see Nadia's message? Atlas has a launch date.
S| No! Tell me.
B| Monday the 18th of November. We've got six weeks. @@b_launch_nov
S| Six weeks?! Ben, we haven't even tested sync on bad connections.
B| I know. I'm going to have a lot of coffee.
S| Okay. I'll finish the empty states this week then. How was the gig, by the way?
B| Good! We got through the whole set and only one string broke. Mine, obviously.
S| Classic. Was the pub full?
B| Full of our mates. And one very drunk man who requested Wonderwall six times.
S| Did you play it?
B| We did not. We have principles.
S| Ha. And the running?
B| Did my first proper long run on Sunday. Fourteen miles, along the Water of Leith and back. @@b_long_run_14
S| Fourteen miles! Ben! That's more than I walk in a month.
B| I couldn't feel my legs after. Kai had to carry the shopping.
S| Kai is a hero. I have family news too.
B| Go on, what's happened?
S| My brother Luis signed the lease for his restaurant! In Valencia, in Ruzafa. Rice dishes, paella, arroz negro. @@s_luis_lease
B| Oh amazing! Is he a chef?
S| He's been cooking in other people's kitchens for ten years. Now it's his turn.
B| That's brilliant, Sofia. I want to go.
S| You have to. I'll make him give you the family discount.
"""),
("2024-10-21T18:05:00+02:00", """
B| Sofia, bad news. Tomás found a nasty bug. @@b_tomas_found
S| Oh no. How bad?
B| When you lose signal mid-download, the tiles get half saved and the map shows grey squares. Sometimes the whole app crashes. @@b_tile_bug
S| Grey squares. That's exactly what we promised people wouldn't see.
B| I know. I've been on it since Friday. It's in the sync code, I think.
S| Can I help? I could change the UI to at least show "download paused".
B| That would help loads actually. People need to know it's not broken.
S| Done. I'll do it tonight. How late are you working?
B| Let's not talk about that.
S| Ben. Go home.
B| I am home. That's the problem.
S| Ha, true. Okay, one small win to cheer you up: my padel team made the final on Thursday!
B| Oh nice! Did you win?
S| No. We lost, 6-3, 6-2. The other team were two retired policemen and they were ruthless. @@s_padel_final
B| Ha! Never play padel against the police.
S| Lesson learned. What is Kai up to?
B| He just finished a dining table for us. Walnut. Took him three months in the workshop. @@b_kai_table
S| Wow. Send me a picture!
B| Sending. We're not allowed to put hot mugs on it. Ever. @@b_no_mugs
S| It's beautiful. Tell Kai he's an artist.
B| He knows. He reminds me daily.
"""),
("2024-11-04T09:50:00+01:00", """
S| Morning Ben. I saw the announcement. Atlas is delayed?
B| Yeah. Nadia moved it to the 20th of January. The sync bug is too deep to fix properly before the 18th. @@b_launch_delayed
S| Honestly? I'm relieved. I didn't want to ship grey squares.
B| Same. I'm rewriting the whole download queue so it can resume properly. @@b_rewrite_queue
S| That sounds like a big job.
B| It is. But at least I'll sleep in December.
S| Ha. Good. Listen, I have big news.
B| You're pregnant. No. You're quitting. No. Tell me.
S| Ha! No. We're adopting a dog! A galgo from a rescue near Toledo. We visit her on Saturday. @@s_galgo_adopt
B| A galgo? That's the Spanish greyhound, right?
S| Yes. Lots of them get abandoned after hunting season. It's terrible. This one is three and very shy. @@s_galgo_abandoned
B| Oh, that's lovely, Sofia. Does she have a name?
S| The rescue calls her Luna. We'll probably keep it. @@s_luna_name
B| Luna is perfect. What does Pancho think?
S| Pancho is a jar of flour, Ben. Pancho doesn't think.
B| He might be jealous.
S| Ha. How's training?
B| Got up to sixteen miles. Slowly. Kai cycles next to me with snacks.
S| That's true love.
"""),
("2024-11-18T12:30:00+01:00", """
S| Ben! Luna came home on Saturday. @@s_luna_home
B| Oh brilliant! How is she?
S| She spent the first day hiding behind the sofa. Then she stole Javier's slipper and slept on it.
B| Ha, she's picked her person.
S| She has. She follows Javier everywhere. I'm a bit jealous. @@s_luna_follows
B| Give it time. You're the one with the treats.
S| True. Picture for you.
B| Oh my god. Her ears! She's so elegant.
S| She is. Very nervous around stairs though, we live on the fourth floor with no lift.
B| Poor thing. Can you carry her?
S| She's twenty-six kilos. Javier carries her. I supervise.
B| Solid plan. Do you want to hear something sad?
S| Always. Tell me.
B| Today was the original Atlas launch date.
S| Oh no. Let's have a minute of silence.
B| Ha. Also the band had another gig on Friday. Kai filmed it. I look like a startled owl on bass.
S| Please send the video.
B| Absolutely not, Sofia.
S| Ben. Send the video.
B| ...Fine. Don't share it.
"""),
("2024-12-02T15:15:00+01:00", """
B| Sofia, quick one. Your Secret Santa name arrived?
S| Yes! Not telling you who I got.
B| Boring. I got someone in marketing, I've never spoken to them. @@b_secret_santa
S| Buy them socks. Everyone likes socks.
B| Good shout. How's the new resume UI?
S| Done! I've added a little progress ring and a "we'll finish when you're back online" message.
B| Love it. It's so much nicer than the grey squares.
S| Everything is nicer than the grey squares.
B| Ha. Any Luna news?
S| She climbed the stairs on her own yesterday! Four floors! @@s_luna_stairs
B| No way! Proud of her.
S| We gave her a whole sausage to celebrate.
B| As you should. And your brother? When's the restaurant opening?
S| Saturday the 14th. It's called La Barraca de Luis. I'm going to Valencia on the train on Friday night. @@s_luis_opening
B| That's so exciting. Are you helping?
S| I'm doing the menus! I designed them. Everything in Valencian and Spanish and English. @@s_menu_design
B| Of course you did. Send me a photo on the night.
S| I will. Wish Luis luck.
B| Good luck, Luis! From a stranger in Edinburgh.
"""),
("2024-12-16T10:40:00+01:00", """
B| Well? How was the opening?
S| Ben, it was so emotional. Full house, two sittings, and people waiting outside for a table. My mum cried for most of the evening, my dad told every stranger that Luis is his son, and at midnight Luis came out of the kitchen and the whole room clapped.
B| Aww. What did you eat?
S| Arroz del senyoret, with all the seafood already peeled. And Luis's arroz negro, which is the best I've ever had. @@s_arroz_negro
B| Sounds amazing. How's Luis feeling?
S| Exhausted and very happy. A food blogger came on the second night and wrote something nice.
B| Brilliant. I'm booking a table when I'm next in Spain.
S| You must. How was your Secret Santa?
B| Ha. Someone gave me a rubber duck dressed as a runner. With a tiny headband. @@b_rubber_duck
S| Ha! That's perfect. It's for the marathon.
B| He's called Sir Quacks-a-Lot and he's on my desk now. @@b_duck_name
S| Of course he is. Christmas plans?
B| Heading up to my mum's in Inverness on the 21st. Kai's coming too. She'll feed us until we burst. @@b_inverness
S| Sounds like Spanish mothers.
B| Same energy. You?
S| Salamanca, with my parents. Luna is coming. First road trip.
B| Good luck. Hope she doesn't get carsick.
S| Me too. Also my sourdough finally worked! Pancho made a real loaf. @@s_sourdough_works
B| Three months later! Pancho has earned his name.
"""),
("2025-01-08T09:30:00+01:00", """
B| Happy New Year Sofia! Or is it too late to say that?
S| Feliz año, Ben! It's fine until the 15th. How was Inverness?
B| Snowy. We went out with Mum's dog Hamish every morning, he's a mad springer spaniel. @@b_hamish
S| That sounds lovely. Did you run?
B| Once, in the snow. Fell over twice. Hamish thought it was a game.
S| Ha. How is your mum?
B| Fiona is thriving. She's joined a ceilidh dancing class. She made me dance at Hogmanay.
S| I need video of that.
B| Not a chance. How was Salamanca?
S| Good! Luna was sick in the car, but only once. And she loved my parents' garden.
B| Poor Luna. So, any news? You've got the face of someone with news. I can tell from your typing.
S| Okay. Nadia told me before Christmas, but it's official now. I'm Design Lead from this month. @@s_promoted
B| SOFIA! That's huge! Congratulations!
S| Thank you! I'll have two designers reporting to me. Marta and Kenji. @@s_reports
B| They're lucky. You'll be a great lead.
S| I'm a bit scared. I still want to design things, not just sit in meetings.
B| You will. Just block your calendar. Mornings for design.
S| Good advice. Now, twelve days to Atlas launch.
B| Don't. I'm already sweating.
"""),
("2025-01-22T17:20:00+01:00", """
S| Ben! We did it!
B| We did! Atlas is live! Two days now and nothing has exploded.
S| Did you see? Apple featured it in the App Store in Spain and Portugal. @@s_app_store
B| I saw! Nadia sent it to the whole company with about twelve rocket emojis.
S| She was so happy. She called me on Monday night.
B| How many downloads?
S| Fifty thousand offline areas saved in the first day. Mostly people in the mountains. @@s_fifty_thousand
B| Ha, the hikers found us.
S| And no grey squares. Tomás checked everything again at six in the morning. @@s_tomas_checked
B| Tomás is a machine. I'm sending him chocolate.
S| Good idea. I'm sending him my sourdough.
B| He'll prefer the chocolate.
S| Rude. How's the training?
B| Eighteen miles on Sunday. Icy, but I didn't fall over this time.
S| Progress! How's Sir Quacks-a-Lot?
B| Watching over me. He's on the monitor now.
S| Perfect. Let's celebrate properly when we meet in person.
B| Which reminds me. Did you hear a rumour about an offsite?
S| What! No. Tell me.
B| I can't say yet. But bring a warm coat.
"""),
("2025-02-05T11:00:00+01:00", """
B| Okay, it's official. The offsite is in Edinburgh! March 12th to 14th. @@b_offsite_edinburgh
S| No way! I'm finally going to see your city!
B| I'll be your guide. Arthur's Seat, the castle, a proper pint.
S| And you'll finally meet me in person. Nervous?
B| Terrified. What if you're taller than me?
S| Ben, I'm 1.62. I don't think that's a worry.
B| Ha, good. I've got other news too.
S| Go on, Ben, tell me.
B| I'm moving teams. From Payments to Search, starting March. @@b_team_move
S| Oh! Why? You've been in Payments for ages.
B| Three years. I want something new. And Search is the stuff I really want to work on.
S| That's great, Ben. I'll miss our Atlas chats though.
B| Me too. But we still share a product. I'll still bother you.
S| You'd better, Ben.
B| How's the Design Lead life?
S| Lots of meetings. But I took your advice and blocked mornings for design. It helps.
B| Told you. I'm very wise.
S| Mostly. How is Kai?
B| Building a cradle for his sister's baby. Everything in our flat smells like sawdust.
S| That's so sweet.
"""),
("2025-02-26T14:50:00+01:00", """
S| Ben! Guess what? I got accepted to speak at a design conference in Barcelona! @@s_talk_accepted
B| Sofia! That's massive! Which one?
S| Interaction Days. It's on the 3rd of April. I'm talking about designing for people with no signal.
B| You have to talk about the grey squares.
S| I'm calling the talk "The Grey Square Problem", actually. @@s_talk_title
B| Ha! Brilliant. I'm honoured.
S| You'll be in the slides. Only anonymously.
B| Good. How's Luna?
S| She's obsessed with the park now. She runs so fast, like a rocket, and then sleeps for twenty hours. @@s_luna_park
B| Classic greyhound behaviour, that.
S| How is the new team? Who's your lead?
B| Hiroshi. He's great, very calm. He's in the Tokyo office so our meetings are at eight in the morning. @@b_hiroshi
S| That's early for you, Ben.
B| It is. But I'm up for runs anyway.
S| True. And the offsite is in two weeks!
B| I've made a list of pubs for you.
S| Only pubs, Ben?
B| And a castle. And a big hill. In that order.
"""),
("2025-03-17T10:05:00+01:00", """
S| Ben, I'm back in Madrid and I already miss Edinburgh. Javier picked me up at Barajas and I talked the whole drive home about closes and wynds and the piper outside Waverley station. He says I have a Scottish accent now. I do not.
B| Ha, I knew you'd like it. Even in the rain?
S| Especially in the rain. The city looked like a film.
B| It does that. What was your favourite bit?
S| Arthur's Seat on the Thursday morning. The wind nearly blew me off the top but the view was unreal. @@s_arthurs_seat
B| I did warn you about the wind.
S| You did. And the pub quiz! We won!
B| Team Grey Squares, champions. Mostly because Tomás knew every capital city in the world. @@b_quiz_win
S| And you knew every song in the music round.
B| The one gift from being in a covers band.
S| Ha. Also you're much taller than I expected.
B| I told you, I'm 1.88. You didn't believe me.
S| On video you look small. It's the camera.
B| Everyone says that. How did you find haggis?
S| I liked it! It was like morcilla. Javier didn't believe me. @@s_haggis
B| Respect. Kai said it was lovely to meet you, by the way.
S| He was so nice. And the table is even more beautiful in person. @@s_table_in_person
B| He'll be very pleased to hear that.
S| Tell him I didn't put a mug on it.
B| I'll tell him. He was watching you.
"""),
("2025-04-07T19:30:00+02:00", """
B| So? Barcelona? How did the talk go?
S| Ben, it went really well! The room was full, about two hundred people. @@s_talk_went_well
B| Amazing! Were you nervous?
S| Terrified for the first two minutes. Then I showed a photo of the grey squares and everyone laughed.
B| Told you. The grey squares are iconic.
S| Someone from a big maps company asked for my slides afterwards.
B| Hope you didn't give them all our secrets.
S| Only the nice ones. How's your training? It's getting close.
B| Seven weeks to go. I did twenty miles on Saturday, my longest ever. @@b_twenty_miles
S| Twenty! Ben, that's incredible.
B| My legs say otherwise. Kai gave me an ice bath. In our actual bathtub.
S| That's love, Ben.
B| That's punishment. Now it's just a bit of tapering.
S| Sorry, what's tapering?
B| Running less before the race so your legs recover. It's the best part.
S| I like the sound of that. How's Search?
B| Good. I'm working on fuzzy place search. So if you type "Edimburgo" it still finds Edinburgh. @@b_fuzzy_search
S| Ha. That's made for me.
B| Literally built with you in mind, Sofia.
"""),
("2025-04-28T13:10:00+02:00", """
S| Ben, I've done something and it's your fault.
B| Oh no. What have I done?
S| I signed up for a 10K! The Carrera de la Mujer in Madrid, in June. @@s_10k
B| SOFIA! That's brilliant! How did that happen?
S| Watching you train made me jealous. And Luna needs someone to run with.
B| Luna will be faster than you.
S| Luna is faster than a car, Ben. It's not a fair comparison.
B| Ha. How far have you run so far?
S| Three kilometres. Without stopping. I'm very proud. @@s_3k
B| You should be! That's how it starts.
S| Any advice for a beginner?
B| Go slower than you think. And buy proper shoes. Don't run in your padel trainers.
S| How did you know I was running in my padel trainers?
B| Just a guess. How's everyone at home?
S| Javier has news. He's going to be head of the science department at his school from September. @@s_javier_head
B| Oh brilliant, tell him congrats!
S| He's happy. He says it means more meetings, less chemistry.
B| Sounds like someone else we know.
S| Ha. Yes. How is the taper?
B| Boring. I miss long runs. Four weeks to go.
S| We'll all be watching on the tracker.
"""),
("2025-05-27T09:45:00+02:00", """
S| BEN!!! You did it!!! I watched the whole thing on the tracker on Sunday! @@s_tracker_sunday
B| I DID IT. I'm still walking like a penguin.
S| What was your time? The app froze at the end for me.
B| Three hours fifty-two! Under four hours! @@b_marathon_time
S| Ben, that's your goal! I'm so proud!
B| Thank you, Sofia. The last six miles were the worst of my life.
S| Oh no, what happened?
B| Wall. Big wall. At mile twenty I wanted to stop. Then I saw Kai with a sign.
S| What did the sign say?
B| "RUN BEN, THE PUB SHUTS AT SIX". @@b_kai_sign
S| Ha! Kai is a genius.
B| It worked. I sprinted. Well, I walked quickly.
S| Did you take Sir Quacks-a-Lot?
B| He was in my pocket the whole way. He's retired now. @@b_duck_pocket
S| A legend. What's next? Another one?
B| Never. Well. Maybe Berlin. Don't tell Kai.
S| Ha, I won't. My 10K is in three weeks, I'm up to seven kilometres now. @@s_7k
B| You'll smash it. Remember, slower than you think.
S| Slower than I think. Got it. Now go and eat everything.
B| Already on my third breakfast.
"""),
]

QUESTIONS = [
# single-hop
("single-hop", "Where did Sofia go on holiday before the Atlas project started?", "Two weeks in Asturias with Javier, hiking in the Picos de Europa.", "s_asturias"),
("single-hop", "What did Sofia and Javier share in Asturias that they couldn't finish?", "A cachopo: two big veal fillets filled with ham and cheese, fried.", "s_cachopo"),
("single-hop", "What was Ben's goal time for the marathon?", "Under four hours.", "b_marathon_goal"),
("single-hop", "What is the name of Sofia's sourdough starter, and who named it?", "Pancho; Javier named it.", "s_pancho"),
("single-hop", "What instrument does Ben play, and in which band?", "Bass, in a covers band called The Unreliables.", "b_band"),
("single-hop", "Where did Ben's band play in September?", "The Thistle and Crown, a pub in Leith.", "b_gig_venue"),
("single-hop", "Where was Ben's first long training run?", "Along the Water of Leith and back, fourteen miles.", "b_long_run_14"),
("single-hop", "What went wrong when users lost signal during a download?", "Tiles were half saved, the map showed grey squares, and sometimes the app crashed.", "b_tile_bug"),
("single-hop", "How did Sofia's padel team do in the final?", "They lost 6-3, 6-2 to two ruthless retired policemen.", "s_padel_final"),
("single-hop", "What did Kai make for Ben's flat?", "A walnut dining table, which took him three months.", "b_kai_table"),
("single-hop", "What job did Sofia do for Luis's restaurant opening?", "She designed the menus, in Valencian, Spanish and English.", "s_menu_design"),
("single-hop", "What did Ben get from his Secret Santa?", "A rubber duck dressed as a runner with a tiny headband, which he named Sir Quacks-a-Lot.", "b_rubber_duck b_duck_name"),
("single-hop", "What is Ben's mum's dog called, and what breed is it?", "Hamish, a springer spaniel.", "b_hamish"),
("single-hop", "Who reports to Sofia in her new role?", "Two designers, Marta and Kenji.", "s_promoted s_reports"),
("single-hop", "Which countries' App Stores featured Atlas at launch?", "Spain and Portugal.", "s_app_store"),
("single-hop", "Who is Ben's new team lead, and where is he based?", "Hiroshi, in the Tokyo office.", "b_hiroshi"),
("single-hop", "What was the name of Sofia's conference talk?", "The Grey Square Problem.", "s_talk_title"),
("single-hop", "What feature is Ben building on the Search team?", "Fuzzy place search, so that typing 'Edimburgo' still finds Edinburgh.", "b_fuzzy_search"),
("single-hop", "What promotion is Javier getting?", "Head of the science department at his school, from September.", "s_javier_head"),
# multi-hop
("multi-hop", "Why was the Atlas launch date changed, and from what to what?", "Tomás found a sync bug where interrupted downloads left grey squares or crashed the app, so Nadia moved the launch from 18 November 2024 to 20 January 2025.", "b_launch_nov b_tomas_found b_tile_bug b_launch_delayed"),
("multi-hop", "Did Ben reach the marathon goal he set in September?", "Yes. He aimed for under four hours and finished in 3:52.", "b_marathon_goal b_marathon_time"),
("multi-hop", "What happened to the rubber duck Ben got at Christmas?", "Sir Quacks-a-Lot sat on his desk and monitor during training, went in his pocket for the whole marathon, and is now retired.", "b_rubber_duck b_duck_name b_duck_pocket"),
("multi-hop", "How has Luna adjusted since coming to live with Sofia?", "She hid behind the sofa at first and attached herself to Javier, climbed the four flights of stairs on her own by early December, and is now obsessed with running in the park.", "s_luna_home s_luna_follows s_luna_stairs s_luna_park"),
("multi-hop", "Where did Sofia's sourdough starter get to by December?", "She started Pancho in September and by mid-December it finally made a real loaf.", "s_pancho s_sourdough_works"),
("multi-hop", "What has Ben worked on at Fieldnote this year, and which team is he on now?", "He did the tile storage and sync backend for Atlas, including rewriting the download queue, then moved from Payments to Search in March, where he works on fuzzy place search.", "b_tile_role b_rewrite_queue b_team_move b_fuzzy_search"),
("multi-hop", "Where is Luis's restaurant, what is it called, and what did Sofia rate as its best dish?", "La Barraca de Luis in Ruzafa, Valencia. Sofia said his arroz negro was the best she'd ever had.", "s_luis_lease s_luis_opening s_arroz_negro"),
("multi-hop", "How did the Atlas bug end up inspiring Sofia's talk?", "The grey squares from the sync bug became the theme of her Barcelona talk, 'The Grey Square Problem'; the audience laughed at the photo and the talk went well.", "b_tile_bug s_talk_title s_talk_went_well"),
("multi-hop", "Which of Ben's colleagues helped the team win the offsite pub quiz, and what had that colleague done for Atlas?", "Tomás, the QA engineer from Buenos Aires, knew every capital city. He found the sync bug and rechecked everything at 6 a.m. on launch day.", "b_tomas_found s_tomas_checked b_quiz_win"),
("multi-hop", "How far had Sofia got in her 10K training by late May, compared with a month earlier?", "She could run seven kilometres by late May, up from three kilometres without stopping at the end of April.", "s_3k s_7k"),
("multi-hop", "What did Sofia think of Kai's table when she saw it in person?", "She said it was even more beautiful in person. It's the walnut dining table he spent three months making, the one no one may put hot mugs on.", "b_kai_table b_no_mugs s_table_in_person"),
("multi-hop", "How far was Ben's longest training run, and how did it compare with his first long run?", "Twenty miles in April, his longest ever, compared with fourteen miles along the Water of Leith in October.", "b_long_run_14 b_twenty_miles"),
# temporal
("temporal", "When did Nadia officially announce Atlas?", "Thursday 5 September 2024.", "b_atlas_kickoff"),
("temporal", "When did Sofia start her sourdough starter?", "Saturday 21 September 2024.", "s_pancho"),
("temporal", "When did Luna come home with Sofia?", "Saturday 16 November 2024.", "s_luna_home"),
("temporal", "When did Luis's restaurant open?", "Saturday 14 December 2024.", "s_luis_opening"),
("temporal", "When did Ben travel to Inverness for Christmas?", "21 December 2024.", "b_inverness"),
("temporal", "How long was the Atlas launch pushed back?", "About nine weeks, from 18 November 2024 to 20 January 2025.", "b_launch_nov b_launch_delayed"),
("temporal", "On what day did Sofia climb Arthur's Seat?", "Thursday 13 March 2025, during the Edinburgh offsite.", "s_arthurs_seat b_offsite_edinburgh"),
("temporal", "When did Ben run his longest training run?", "Saturday 5 April 2025, twenty miles.", "b_twenty_miles"),
("temporal", "When did Ben run the marathon, and how long was it from signing up?", "Sunday 25 May 2025. He told Sofia he had signed up on 9 September 2024, about eight and a half months earlier.", "b_marathon_signup s_tracker_sunday b_marathon_time"),
# open-domain
("open-domain", "What kind of dog did Sofia adopt, and why are so many of them in rescues?", "A galgo (Spanish greyhound). Many are abandoned in Spain after the hunting season.", "s_galgo_adopt s_galgo_abandoned"),
("open-domain", "Which mountain range did Sofia hike in, and in which part of Spain is it?", "The Picos de Europa, in northern Spain (Asturias, Cantabria and León).", "s_asturias"),
("open-domain", "What is Arthur's Seat?", "An extinct volcano and hill in Holyrood Park, Edinburgh, with views over the city.", "s_arthurs_seat"),
("open-domain", "Sofia compared haggis to a Spanish food; what is that food?", "Morcilla, Spanish blood sausage.", "s_haggis"),
("open-domain", "What gives arroz negro, the dish Sofia loved at Luis's restaurant, its colour?", "Squid or cuttlefish ink.", "s_arroz_negro"),
("open-domain", "Why would an offline maps feature be especially popular with the users who saved areas first?", "Most were people in the mountains, where hikers often have no phone signal.", "s_fifty_thousand"),
("open-domain", "Who can enter the race Sofia signed up for?", "Women only: the Carrera de la Mujer is a women's race held in Madrid.", "s_10k"),
]
